using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// One <c>moe-silo</c> process (localhost clustering, rank 0) on the built-in model with a known
/// telemetry token, a client connected through its gateway, and HTTP calls to its telemetry endpoints.
/// Each test class gets its own, so the request counts it asserts are exactly the load it drove.
/// </summary>
public sealed class TelemetrySilo : IAsyncLifetime
{
    public const string Token = "realparts-telemetry-token";
    public const string ModelName = "default";
    /// <summary>The built-in model's shape, which the dashboard's heat map and the expert views follow.</summary>
    public const int Layers = 4;
    static readonly TimeSpan StartLimit = TimeSpan.FromSeconds(90);

    readonly string _directory = Directory.CreateTempSubdirectory("moe-telemetry-").FullName;
    SiloRank? _silo;

    public string ModelDirectory => Path.Combine(_directory, "model");
    public string LogDirectory => Path.Combine(_directory, "logs");
    public int HttpPort => _silo!.HttpPort;
    public string BaseUrl => $"http://127.0.0.1:{HttpPort}";
    public MoeClusterConnection Connection { get; private set; } = null!;
    /// <summary>A fresh folder for one test's files (configs, browser profiles, screenshots), removed with the silo.</summary>
    public string Scratch(string name) => Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(LogDirectory);
        DefaultModelWriter.Write(ModelDirectory);
        int[] ports = FreePorts.Take(3);
        var process = ChildProcess.Start("silo0", LogDirectory, Binaries.Dotnet,
        [
            Binaries.Silo, "--clustering", "localhost", "--rank", "0",
            "--silo-port", ports[0].ToString(), "--primary-port", ports[0].ToString(), "--gateway-port", ports[1].ToString(),
            "--http-port", ports[2].ToString(), "--model", ModelDirectory, "--Telemetry:Tokens:0", Token,
        ]);
        _silo = new SiloRank(0, process, ports[0], ports[1], ports[2]);
        await Eventually.UntilAsync("the silo's /healthz answers", StartLimit, async () =>
        {
            if (process.HasExited) throw new Xunit.Sdk.XunitException($"the silo exited with code {process.ExitCode}\n{Diagnostics()}");
            using JsonDocument health = (await Http.GetFromJsonAsync<JsonDocument>($"{BaseUrl}/healthz"))!;
            return health.RootElement.GetProperty("members").GetInt32() == 1;
        }, Diagnostics);
        Connection = await MoeClusterConnection.ConnectAsync(
            new MoeClientOptions { Clustering = "localhost", GatewayPorts = [ports[1]] }, StartLimit, CancellationToken.None);
    }

    /// <summary>Streams <paramref name="prompts"/> concurrently, greedy, and fails unless every one completes.</summary>
    internal async Task<StreamedRequest[]> StreamAsync(IEnumerable<string> prompts, int maxTokens)
    {
        IRouterGrain router = Connection.Client.GetGrain<IRouterGrain>(ModelName);
        using var abandon = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        StreamedRequest[] requests = prompts.Select(p => StreamedRequest.Start(router, p, maxTokens, abandon.Token)).ToArray();
        await Task.WhenAll(requests.Select(r => r.Ended));
        Assert.All(requests, r => Assert.True(r.Error is null && r.Tokens.Count == maxTokens, $"{r}\n{Diagnostics()}"));
        return requests;
    }

    /// <summary>GET with the given credential header (none when <paramref name="header"/> is null).</summary>
    public async Task<HttpResponseMessage> GetAsync(string pathAndQuery, string? header = "Authorization", string token = Token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, BaseUrl + pathAndQuery);
        if (header == "Authorization") request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        else if (header is not null) request.Headers.Add(header, token);
        return await Http.SendAsync(request);
    }

    /// <summary>The live /metrics page in Prometheus text format, read with the token.</summary>
    public async Task<MetricsText> ScrapeAsync()
    {
        using HttpResponseMessage response = await GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return new MetricsText(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Waits until the silo's own summaries (shipped every second) have counted <paramref name="requests"/> successes.</summary>
    public Task UntilMetricsCountAsync(int requests) =>
        Eventually.UntilAsync($"/metrics counts {requests} successful requests", TimeSpan.FromSeconds(30),
            async () => (await ScrapeAsync()).Sum("moe_requests_total", ("status", "success")) >= requests, Diagnostics);

    public string Diagnostics() => _silo?.Process.StderrTail() ?? "";

    public async Task DisposeAsync()
    {
        if (Connection is not null)
        {
            try
            {
                await Connection.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                // The kill below ends the silo either way.
            }
        }
        _silo?.Process.Dispose();
        Http.Dispose();
        Directory.Delete(_directory, recursive: true);
    }
}
