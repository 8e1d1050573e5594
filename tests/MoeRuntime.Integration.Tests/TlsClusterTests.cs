using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Security;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// Three silo processes with mutual TLS, Redis membership behind a password, and certificates made by <c>moe cert</c>:
/// an operator's and a client's connection, each with its own certificate.
/// </summary>
public sealed class TlsProcessCluster : IAsyncLifetime
{
    public const int RankCount = 3;
    static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(120);
    readonly string _directory = Directory.CreateTempSubdirectory("moe-tls-").FullName;
    readonly List<SiloRank> _silos = [];
    RedisServer? _redis;

    public string Certificates => Path.Combine(_directory, "certs");
    string ModelDirectory => Path.Combine(_directory, "model");
    public string LogDirectory => Path.Combine(_directory, "logs");
    public string Redis => _redis!.ConnectionString;
    public MoeClusterConnection Operator { get; private set; } = null!;
    public MoeClusterConnection ClientConnection { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(LogDirectory);
        MoeCli.Outcome made = await MoeCli.RunAsync(LogDirectory, TimeSpan.FromSeconds(60), "cert", "--out", Certificates, "--silos", RankCount.ToString(), "--operator", "olivia", "--client", "carl");
        Assert.True(made.ExitCode == 0, $"moe cert failed: {made.StderrTail}");
        DefaultModelWriter.Write(ModelDirectory);
        _redis = await RedisServer.StartAsync(LogDirectory, password: "redis-secret-" + Guid.NewGuid().ToString("N"));
        for (int rank = 0; rank < RankCount; rank++) _silos.Add(StartSilo(rank));
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (SiloRank silo in _silos)
            await Eventually.UntilAsync($"rank {silo.Rank}'s /healthz counts {RankCount} members", StartLimit,
                async () => AssertRunning(silo) && await MembersAsync(http, silo) == RankCount, Diagnostics);
        Operator = await ConnectAsync("operator.pfx", StartLimit);
        ClientConnection = await ConnectAsync("client.pfx", StartLimit);
    }

    SiloRank StartSilo(int rank)
    {
        int[] ports = FreePorts.Take(3);
        var process = ChildProcess.Start($"tls-silo{rank}", LogDirectory, Binaries.Dotnet,
        [
            Binaries.Silo, "--clustering", "redis", "--redis", Redis, "--rank", rank.ToString(),
            "--silo-port", ports[0].ToString(), "--gateway-port", ports[1].ToString(), "--http-port", ports[2].ToString(),
            "--model", ModelDirectory,
            "--tls", "true", "--cert", Path.Combine(Certificates, $"silo-{rank}.pfx"), "--ca", Path.Combine(Certificates, "ca.crt"),
            "--internal-key", Path.Combine(Certificates, "internal.key"),
        ]);
        return new SiloRank(rank, process, ports[0], ports[1], ports[2]);
    }

    /// <summary>A client through the first gateway with a certificate from <see cref="Certificates"/> (or none).</summary>
    public Task<MoeClusterConnection> ConnectAsync(string? certificate, TimeSpan timeout, string? authority = null) =>
        MoeClusterConnection.ConnectAsync(new MoeClientOptions
        {
            Clustering = "localhost",
            GatewayPorts = [_silos[0].GatewayPort],
            Certificate = certificate is null ? "" : Path.Combine(Certificates, certificate),
            CertificateAuthority = certificate is null ? "" : authority ?? Path.Combine(Certificates, "ca.crt"),
        }, timeout, CancellationToken.None);

    static async Task<int> MembersAsync(HttpClient http, SiloRank silo)
    {
        using JsonDocument health = (await http.GetFromJsonAsync<JsonDocument>($"http://127.0.0.1:{silo.HttpPort}/healthz"))!;
        return health.RootElement.GetProperty("members").GetInt32();
    }

    bool AssertRunning(SiloRank silo) =>
        !silo.Process.HasExited ? true : throw new Xunit.Sdk.XunitException($"rank {silo.Rank} exited with code {silo.Process.ExitCode}\n{Diagnostics()}");

    public string Diagnostics() =>
        string.Join('\n', _silos.Select(s => s.Process.StderrTail())) + "\n" + (_redis?.StderrTail() ?? "");

    public async Task DisposeAsync()
    {
        foreach (MoeClusterConnection? connection in new[] { Operator, ClientConnection })
        {
            if (connection is null) continue;
            try
            {
                await connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                // The kills below end it all.
            }
        }
        foreach (SiloRank silo in _silos) silo.Process.Dispose();
        _redis?.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>Issue 15's boundaries across real processes: who may connect, what each role may call, who is recorded.</summary>
public sealed class TlsClusterTests(TlsProcessCluster cluster) : IClassFixture<TlsProcessCluster>
{
    const string Model = "default";

    [Fact]
    public async Task ThreeSilosWithMutualTlsAndRedisServeARequestEndToEnd()
    {
        IClusterClient client = cluster.ClientConnection.Client;
        RankInfo[] ranks = await client.GetGrain<IClusterGrain>(0).GetRanksAsync();
        Assert.Equal([0, 1, 2], ranks.Where(r => r.Status == "Active").Select(r => r.Rank).Order());
        GenerateResponse answer = await client.GetGrain<IRouterGrain>(Model).GenerateAsync(
            new GenerateRequest { Prompt = "The experts", Sampling = SamplingParameters.Greedy(8) with { StopTokenIds = [] } });
        Assert.Equal(8, answer.TokenIds.Length);
    }

    [Fact]
    public async Task AClientCertificateCallingEachNonClientInterfaceIsRefused()
    {
        IClusterClient c = cluster.ClientConnection.Client;
        var calls = new (string Method, Func<Task> Call)[]
        {
            ("ITierSetGrain.UpdateAsync", () => c.GetGrain<ITierSetGrain>($"{Model}/0").UpdateAsync(new TierSetUpdate { HotBudgetBytes = 1L << 40, ChangedBy = "controller:latency", Reason = "x" })),
            ("ITierSetGrain.GetAsync", () => c.GetGrain<ITierSetGrain>($"{Model}/0").GetAsync()),
            ("ITierControllerGrain.SetDryRunAsync", () => c.GetGrain<ITierControllerGrain>(Model).SetDryRunAsync(true)),
            ("ITierControllerGrain.PinAsync", () => c.GetGrain<ITierControllerGrain>(Model).PinAsync($"{Model}/0/0", "hot", "x", "y")),
            ("IExpertPlacementGrain.ApplyAsync", () => c.GetGrain<IExpertPlacementGrain>(Model).ApplyAsync(new PlacementMapUpdate { ChangedBy = "x", Reason = "y" })),
            ("ILoadBalancerGrain.BalanceAsync", () => c.GetGrain<ILoadBalancerGrain>(Model).BalanceAsync(false)),
            ("IPrefetchControllerGrain.SetAsync", () => c.GetGrain<IPrefetchControllerGrain>(Model).SetAsync(new PrefetchSettingsChange(), "x", "y")),
            ("IPrefetchStatsGrain.GetAsync", () => c.GetGrain<IPrefetchStatsGrain>($"{Model}/0").GetAsync()),
            ("IClusterGrain.GetOwnershipAsync", () => c.GetGrain<IClusterGrain>(0).GetOwnershipAsync(Model)),
            ("IExpertGrain.ComputeAsync", () => c.GetGrain<IExpertGrain>($"{Model}/0/0").ComputeAsync(new TensorPayload(new byte[64 * sizeof(float)], 1, 64), null)),
            ("IExpertGrain.GetInfoAsync", () => c.GetGrain<IExpertGrain>($"{Model}/0/0").GetInfoAsync()),
            ("IShardAggregatorGrain.ReportAsync", () => c.GetGrain<IShardAggregatorGrain>(0).ReportAsync([1, 2, 3])),
            ("IShardAggregatorGrain.ReportDigestsAsync", () => c.GetGrain<IShardAggregatorGrain>(0).ReportDigestsAsync("<img src=x onerror=alert(1)>", [1, 2, 3])),
            ("IClusterAggregatorGrain.ReportShardAsync", () => c.GetGrain<IClusterAggregatorGrain>(0).ReportShardAsync(new ShardReport { Delta = [] })),
            ("IControlDecisionLogGrain.RecordAsync", () => c.GetGrain<IControlDecisionLogGrain>(Model).RecordAsync([])),
            ("IControlDecisionLogGrain.GetDecisionsAsync", () => c.GetGrain<IControlDecisionLogGrain>(Model).GetDecisionsAsync(10, null)),
        };
        var accepted = new List<string>();
        foreach (var (method, call) in calls)
        {
            try
            {
                await call();
                accepted.Add($"{method} was accepted");
            }
            catch (MoePermissionDeniedException denied)
            {
                if (denied.CallerRole != "client") accepted.Add($"{method}: caller role {denied.CallerRole}");
            }
        }
        Assert.Empty(accepted);
    }

    [Fact]
    public async Task AnOperatorCertificateWritesATierSetUnderItsOwnIdentity()
    {
        IClusterClient o = cluster.Operator.Client;
        TierSetView view = await o.GetGrain<ITierSetGrain>($"{Model}/1").UpdateAsync(new TierSetUpdate
        {
            Tiers = new() { [$"{Model}/0/1"] = "warm" },
            ChangedBy = "controller:latency",
            Reason = "tls test",
        });
        using X509Certificate2 certificate = DevCertificateAuthority.LoadPfx(Path.Combine(cluster.Certificates, "operator.pfx"), null);
        Assert.Equal(CertificateRoles.IdentityOf(certificate, MoeRole.Operator), view.ChangedBy);
        Assert.StartsWith("operator:olivia#", view.ChangedBy);
        Assert.Equal("tls test", view.Reason);
        // An operator is still not a silo: it cannot ship telemetry or compute.
        MoePermissionDeniedException denied = await Assert.ThrowsAsync<MoePermissionDeniedException>(() => o.GetGrain<IShardAggregatorGrain>(0).ReportAsync([1]));
        Assert.Equal(("internal", "operator"), (denied.RequiredRole, denied.CallerRole));
    }

    [Fact]
    public async Task AConnectionWithoutACertificateOrWithAForeignOneIsRefused()
    {
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using MoeClusterConnection anonymous = await cluster.ConnectAsync(null, TimeSpan.FromSeconds(8));
            await anonymous.Client.GetGrain<IRouterGrain>(Model).GetStatusAsync();
        });
        string foreign = Path.Combine(cluster.LogDirectory, "foreign");
        Directory.CreateDirectory(foreign);
        using (X509Certificate2 otherCa = DevCertificateAuthority.CreateAuthority("not the cluster's CA", TimeSpan.FromDays(1)))
        using (X509Certificate2 mallory = DevCertificateAuthority.Issue(otherCa, "mallory", MoeRole.Operator, TimeSpan.FromDays(1)))
            DevCertificateAuthority.WritePfx(mallory, Path.Combine(foreign, "mallory.pfx"), "");
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using MoeClusterConnection forged = await cluster.ConnectAsync(Path.Combine(foreign, "mallory.pfx"), TimeSpan.FromSeconds(8));
            await forged.Client.GetGrain<IRouterGrain>(Model).GetStatusAsync();
        });
        // The cluster still serves its own certificates afterwards.
        Assert.NotNull(await cluster.ClientConnection.Client.GetGrain<IRouterGrain>(Model).GetStatusAsync());
    }
}
