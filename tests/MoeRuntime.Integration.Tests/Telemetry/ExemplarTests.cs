using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// A real silo's /metrics after traced requests: completions sent to the front door with a sampled W3C
/// <c>traceparent</c> (as a traced caller would) are traced under the caller's trace id, and /metrics scraped as
/// OpenMetrics shows that trace id as an exemplar on the latency histograms (TTFT, inter-token latency, request
/// duration), each value inside its bucket. Scraped as Prometheus text, the page has no exemplar and promtool finds no
/// problem in the moe_* families.
/// </summary>
public sealed partial class ExemplarTests(TelemetrySilo silo, ITestOutputHelper output) : IClassFixture<TelemetrySilo>
{
    const int Requests = 3;
    /// <summary>Past the 16th token, so the sampled inter-token latency (every 16th position by default) has a traced gap.</summary>
    const int Tokens = 24;

    static readonly string[] Latencies = ["moe_time_to_first_token_seconds", "moe_time_per_output_token_seconds", "moe_request_duration_seconds"];

    [Fact]
    public async Task OpenMetricsLatencyBucketsNameTheRequestsTraceAndPlainTextStaysValid()
    {
        var traces = new HashSet<string>(StringComparer.Ordinal);
        // A fresh silo's first completion can take longer than the fixture client's 10 s on a busy machine.
        using var completions = new HttpClient { Timeout = TimeSpan.FromSeconds(90) };
        for (int i = 0; i < Requests; i++)
        {
            ActivityTraceId trace = ActivityTraceId.CreateRandom();
            traces.Add(trace.ToHexString());
            using var request = new HttpRequestMessage(HttpMethod.Post, $"{silo.BaseUrl}/v1/completions")
            {
                Content = JsonContent.Create(new { model = TelemetrySilo.ModelName, prompt = $"Traced request {i}", max_tokens = Tokens, temperature = 0 }),
            };
            request.Headers.Add("traceparent", $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01");
            using HttpResponseMessage response = await completions.SendAsync(request);
            Assert.True(response.IsSuccessStatusCode, $"completion {i}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }

        string page = "";
        string contentType = "";
        await Eventually.UntilAsync("every latency histogram has an exemplar of a request sent", TimeSpan.FromSeconds(30), async () =>
        {
            using var scrape = new HttpRequestMessage(HttpMethod.Get, $"{silo.BaseUrl}/metrics");
            scrape.Headers.Authorization = new("Bearer", TelemetrySilo.Token);
            scrape.Headers.Accept.ParseAdd("application/openmetrics-text; version=1.0.0");
            using HttpResponseMessage response = await silo.Http.SendAsync(scrape);
            response.EnsureSuccessStatusCode();
            contentType = response.Content.Headers.ContentType?.ToString() ?? "";
            page = await response.Content.ReadAsStringAsync();
            return Latencies.All(family => Exemplars(page, family).Any(m => traces.Contains(m.Groups["trace"].Value)));
        }, () => $"{silo.Diagnostics()}\nsent traces: {string.Join(", ", traces)}\nexemplar lines:\n" +
            string.Join('\n', page.Split('\n').Where(l => l.StartsWith("moe_", StringComparison.Ordinal) && l.Contains("trace_id", StringComparison.Ordinal)).Take(20)));

        Assert.StartsWith("application/openmetrics-text", contentType);
        Assert.EndsWith("# EOF\n", page);
        foreach (string family in Latencies)
        {
            foreach (Match exemplar in Exemplars(page, family))
            {
                output.WriteLine(exemplar.Value);
                Assert.Contains(exemplar.Groups["trace"].Value, traces);
                // The exemplar's value lies in its bucket: above 0 and at most the bucket's upper bound.
                double value = double.Parse(exemplar.Groups["value"].Value, CultureInfo.InvariantCulture);
                string le = exemplar.Groups["le"].Value;
                Assert.True(value > 0 && (le == "+Inf" || value <= double.Parse(le, CultureInfo.InvariantCulture)), $"{family}: exemplar {value} in le={le}");
            }
        }

        // The Prometheus text format has no exemplars, and stays valid.
        // The page follows the rank's summaries, taken once per interval: wait until it counts every request sent.
        MetricsText plain = null!;
        await Eventually.UntilAsync("the plain page counts the requests", TimeSpan.FromSeconds(15), async () =>
        {
            plain = await silo.ScrapeAsync();
            return plain.Sum("moe_request_duration_seconds_count") >= Requests;
        }, silo.Diagnostics);
        Assert.DoesNotContain("trace_id", plain.Text);
        Assert.DoesNotContain("# EOF", plain.Text);
        string[] problems = await Promtool.CheckMetricsAsync(plain.Text);
        Assert.Empty(problems.Where(p => p.StartsWith("moe_", StringComparison.Ordinal)).Distinct());
    }

    static IEnumerable<Match> Exemplars(string page, string family) =>
        ExemplarLine().Matches(page).Where(m => m.Groups["family"].Value == family);

    [GeneratedRegex(@"^(?<family>moe_[a-z_]+)_bucket\{[^}]*le=""(?<le>[^""]+)""\} \d+ # \{trace_id=""(?<trace>[0-9a-f]{32})"",span_id=""[0-9a-f]{16}""\} (?<value>[0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex ExemplarLine();
}
