using System.Net.Http.Json;
using System.Text.RegularExpressions;
using MoeRuntime.Grains;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// Ordinary requests, from a caller that sends no trace context, are traced at <c>Telemetry:TraceSampleRatio</c>.
/// A real silo at ratio 1 serves completions from its front door (no <c>traceparent</c>) and whole answers from the
/// Orleans client; each route's request-duration histogram then carries an exemplar naming a trace. Before requests
/// started a trace of their own, the unsampled span the HTTP server or the grain call opened around them made the
/// parent-based sampler drop every one, so an operator asking for every trace got none.
/// </summary>
public sealed partial class TraceSamplingTests : IAsyncLifetime
{
    const string Token = "trace-sampling-token";
    const int Tokens = 8;
    LocalSilo _silo = null!;

    public async Task InitializeAsync() =>
        _silo = await LocalSilo.StartAsync("trace-sampling", ["--Telemetry:Tokens:0", Token, "--Telemetry:TraceSampleRatio", "1"]);

    public async Task DisposeAsync() => await _silo.DisposeAsync();

    [Fact]
    public async Task RequestsWithoutACallersTraceAreTracedAtRatioOneOnBothRoutes()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(90), BaseAddress = new Uri($"http://127.0.0.1:{_silo.Silo.HttpPort}/") };
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage response = await http.PostAsJsonAsync("v1/completions",
                new { model = TelemetrySilo.ModelName, prompt = $"Untraced caller {i}", max_tokens = Tokens, temperature = 0 });
            Assert.True(response.IsSuccessStatusCode, $"completion {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        IRouterGrain router = _silo.Connection.Client.GetGrain<IRouterGrain>(TelemetrySilo.ModelName);
        for (int i = 0; i < 2; i++)
        {
            GenerateResponse answer = await router.GenerateAsync(new GenerateRequest
            {
                Prompt = $"Orleans caller {i}",
                Sampling = new SamplingParameters { MaxTokens = Tokens, Temperature = 0 },
            });
            Assert.Equal(Tokens, answer.TokenIds.Length);
        }

        string page = "";
        await Eventually.UntilAsync("both routes' request durations carry an exemplar", TimeSpan.FromSeconds(30), async () =>
        {
            using var scrape = new HttpRequestMessage(HttpMethod.Get, "metrics");
            scrape.Headers.Authorization = new("Bearer", Token);
            scrape.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
            using HttpResponseMessage response = await http.SendAsync(scrape);
            response.EnsureSuccessStatusCode();
            page = await response.Content.ReadAsStringAsync();
            var routes = DurationExemplar().Matches(page).Select(m => m.Groups["route"].Value).ToHashSet();
            return routes.Contains("stream") && routes.Contains("generate");
        }, () => $"{_silo.Diagnostics()}\nrequest-duration lines:\n" +
            string.Join('\n', page.Split('\n').Where(l => l.StartsWith("moe_request_duration_seconds_bucket", StringComparison.Ordinal)).Take(30)));
    }

    [GeneratedRegex(@"^moe_request_duration_seconds_bucket\{[^}]*route=""(?<route>[a-z]+)""[^}]*\} \d+ # \{trace_id=""[0-9a-f]{32}"",span_id=""[0-9a-f]{16}""\}", RegexOptions.Multiline)]
    private static partial Regex DurationExemplar();
}
