using System.Net.Http.Headers;
using System.Net.Http.Json;
using MoeRuntime.Client;
using MoeRuntime.Grains;

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
    /// <summary>Experts per layer in the built-in model: the heat map's columns.</summary>
    public const int Experts = 8;

    LocalSilo? _silo;

    public int HttpPort => _silo!.Silo.HttpPort;
    public string BaseUrl => $"http://127.0.0.1:{HttpPort}";
    public MoeClusterConnection Connection => _silo!.Connection;
    /// <inheritdoc cref="LocalSilo.Scratch"/>
    public string Scratch(string name) => _silo!.Scratch(name);
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public async Task InitializeAsync() => _silo = await LocalSilo.StartAsync("telemetry", ["--Telemetry:Tokens:0", Token]);

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

    public string Diagnostics() => _silo?.Diagnostics() ?? "";

    public async Task DisposeAsync()
    {
        if (_silo is not null) await _silo.DisposeAsync();
        Http.Dispose();
    }
}
