using System.Net.Http.Json;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// A real cluster on this machine: the built-in model in a temp directory, a private redis-server for
/// membership, and three <c>moe-silo</c> processes (ranks 0, 1, 2) on free loopback ports. Ready once
/// every silo's <c>/healthz</c> counts three members and the cluster grain lists three active ranks.
/// Dispose kills every process it started.
/// </summary>
public class ProcessCluster : IAsyncLifetime
{
    public const int RankCount = 3;
    public const string ModelName = "default";
    static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    readonly string _directory = Directory.CreateTempSubdirectory("moe-integration-").FullName;
    readonly List<SiloRank> _silos = [];
    RedisServer? _redis;

    public string ModelDirectory => Path.Combine(_directory, "model");
    public string LogDirectory => Path.Combine(_directory, "logs");
    public string Redis => _redis!.ConnectionString;
    /// <summary>Kills one rank's silo process outright, as a crash would.</summary>
    public void Kill(int rank) => _silos[rank].Process.Kill();
    /// <summary>Stops one rank's silo process with SIGTERM, as an orchestrator would.</summary>
    public void Terminate(int rank) => _silos[rank].Process.Terminate();
    /// <summary>Whether one rank's silo process has exited.</summary>
    public bool HasExited(int rank) => _silos[rank].Process.HasExited;
    public MoeClusterConnection Connection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(LogDirectory);
        DefaultModelWriter.Write(ModelDirectory);
        _redis = await RedisServer.StartAsync(LogDirectory);
        for (int rank = 0; rank < RankCount; rank++) _silos.Add(StartSilo(rank));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (SiloRank silo in _silos)
            await Eventually.UntilAsync($"rank {silo.Rank}'s /healthz counts {RankCount} members", StartLimit,
                async () => AssertRunning(silo) && await MembersAsync(http, silo) == RankCount, Diagnostics);
        Connection = await MoeClusterConnection.ConnectAsync(new MoeClientOptions { Clustering = "redis", Redis = Redis }, StartLimit, CancellationToken.None);
        await Eventually.UntilAsync($"the cluster grain lists ranks 0..{RankCount - 1} as active", StartLimit,
            async () => (await ActiveRanksAsync(Connection.Client)).SetEquals(Enumerable.Range(0, RankCount)), Diagnostics);
    }

    /// <summary>Settings every silo of this cluster gets on top of the defaults.</summary>
    protected virtual string[] ExtraSiloArguments => [];

    SiloRank StartSilo(int rank)
    {
        int[] ports = FreePorts.Take(3);
        var process = ChildProcess.Start($"silo{rank}", LogDirectory, Binaries.Dotnet,
        [
            Binaries.Silo, "--clustering", "redis", "--redis", Redis, "--rank", rank.ToString(),
            "--silo-port", ports[0].ToString(), "--gateway-port", ports[1].ToString(), "--http-port", ports[2].ToString(),
            "--model", ModelDirectory, .. ExtraSiloArguments,
        ]);
        return new SiloRank(rank, process, ports[0], ports[1], ports[2]);
    }

    static async Task<int> MembersAsync(HttpClient http, SiloRank silo)
    {
        using JsonDocument health = (await http.GetFromJsonAsync<JsonDocument>($"http://127.0.0.1:{silo.HttpPort}/healthz"))!;
        return health.RootElement.GetProperty("members").GetInt32();
    }

    bool AssertRunning(SiloRank silo) =>
        !silo.Process.HasExited ? true : throw new Xunit.Sdk.XunitException($"rank {silo.Rank} exited with code {silo.Process.ExitCode}\n{Diagnostics()}");

    /// <summary>Ranks the cluster grain reports as active.</summary>
    public static async Task<HashSet<int>> ActiveRanksAsync(IClusterClient client)
    {
        RankInfo[] ranks = await client.GetGrain<IClusterGrain>(0).GetRanksAsync();
        return ranks.Where(r => r.Status == "Active").Select(r => r.Rank).ToHashSet();
    }

    /// <summary>A client that reaches the cluster only through the gateways of <paramref name="ranks"/>.</summary>
    public Task<MoeClusterConnection> ConnectThroughAsync(params int[] ranks) =>
        MoeClusterConnection.ConnectAsync(
            new MoeClientOptions { Clustering = "localhost", GatewayPorts = ranks.Select(r => _silos[r].GatewayPort).ToArray() },
            TimeSpan.FromSeconds(30), CancellationToken.None);

    /// <summary>The tails of every process's stderr, for assertion messages.</summary>
    public string Diagnostics() =>
        string.Join('\n', _silos.Select(s => s.Process.StderrTail())) + "\n" + (_redis?.StderrTail() ?? "");

    public virtual async Task DisposeAsync()
    {
        if (Connection is not null)
        {
            try
            {
                await Connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                // A client whose cluster lost a rank can take long to stop politely; the kills below end it all.
            }
        }
        foreach (SiloRank silo in _silos) silo.Process.Dispose();
        _redis?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
