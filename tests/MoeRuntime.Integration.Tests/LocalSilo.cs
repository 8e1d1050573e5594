using System.Net.Http.Json;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// One <c>moe-silo</c> process (localhost clustering, rank 0) on the built-in model in its own temp directory, started
/// with extra settings, and a client connected through its gateway. Ready once its <c>/healthz</c> counts one member.
/// Dispose disconnects, kills the process if it still runs, and removes the directory.
/// </summary>
sealed class LocalSilo : IAsyncDisposable
{
    static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    readonly string _directory;

    LocalSilo(string directory, SiloRank silo, MoeClusterConnection connection)
    {
        _directory = directory;
        Silo = silo;
        Connection = connection;
    }

    public SiloRank Silo { get; }
    public ChildProcess Process => Silo.Process;
    public MoeClusterConnection Connection { get; }
    public string LogDirectory => LogsIn(_directory);
    /// <summary>A fresh folder for one test's files (configs, browser profiles, screenshots), removed with the silo.</summary>
    public string Scratch(string name) => Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;

    static string ModelIn(string directory) => Path.Combine(directory, "model");
    static string LogsIn(string directory) => Path.Combine(directory, "logs");

    /// <param name="name">Prefix of the temp directory, naming the tests that use it.</param>
    /// <param name="settings">Further command-line settings, such as <c>--Moe:DrainTimeout=00:00:05</c>.</param>
    /// <param name="client">The client's options; clustering and gateway are filled in.</param>
    /// <param name="https">The silo serves HTTPS (a test certificate): /healthz is read over https, trusting any certificate.</param>
    public static async Task<LocalSilo> StartAsync(string name, IEnumerable<string> settings, MoeClientOptions? client = null, bool https = false)
    {
        string directory = Directory.CreateTempSubdirectory($"moe-{name}-").FullName;
        Directory.CreateDirectory(LogsIn(directory));
        DefaultModelWriter.Write(ModelIn(directory));
        int[] ports = FreePorts.Take(3);
        var process = ChildProcess.Start("silo0", LogsIn(directory), Binaries.Dotnet,
        [
            Binaries.Silo, "--clustering", "localhost", "--rank", "0",
            "--silo-port", ports[0].ToString(), "--primary-port", ports[0].ToString(), "--gateway-port", ports[1].ToString(),
            "--http-port", ports[2].ToString(), "--model", ModelIn(directory), .. settings,
        ]);
        var silo = new SiloRank(0, process, ports[0], ports[1], ports[2]);
        try
        {
            using var handler = new HttpClientHandler();
            if (https) handler.ServerCertificateCustomValidationCallback = HttpClientHandler.DangerousAcceptAnyServerCertificateValidator;
            using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
            await Eventually.UntilAsync("the silo's /healthz answers", StartLimit, async () =>
            {
                if (process.HasExited) throw new Xunit.Sdk.XunitException($"the silo exited with code {process.ExitCode}\n{process.StderrTail()}");
                using JsonDocument health = (await http.GetFromJsonAsync<JsonDocument>($"{(https ? "https" : "http")}://127.0.0.1:{silo.HttpPort}/healthz"))!;
                return health.RootElement.GetProperty("members").GetInt32() == 1;
            }, () => process.StderrTail());
            MoeClusterConnection connection = await MoeClusterConnection.ConnectAsync(
                (client ?? new MoeClientOptions()) with { Clustering = "localhost", GatewayPorts = [silo.GatewayPort] }, StartLimit, CancellationToken.None);
            return new LocalSilo(directory, silo, connection);
        }
        catch
        {
            process.Dispose();
            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public string Diagnostics() => Process.StderrTail();

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            // A client whose silo has gone can take long to stop politely; the kill below ends the silo either way.
        }
        Process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
