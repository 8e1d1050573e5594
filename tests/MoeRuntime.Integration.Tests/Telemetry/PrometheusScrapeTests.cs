using Xunit.Abstractions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// Debian's Prometheus scrapes a silo under load with the telemetry token; PromQL over its HTTP API
/// finds exactly the requests the client made and a p95 that agrees with the client's own.
/// </summary>
public sealed class PrometheusScrapeTests(TelemetrySilo silo, ITestOutputHelper output) : IClassFixture<TelemetrySilo>
{
    const int Requests = 12;
    const int MaxTokens = 16;
    const string RequestCount = """sum(moe_requests_total{status="success"})""";
    const string ServerP95 = "histogram_quantile(0.95, sum by (le) (moe_request_duration_seconds_bucket))";
    /// <summary>moe_request_duration_seconds' upper bounds (docs/metrics.md).</summary>
    static readonly double[] Buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 1, 1.2, 2, 2.5, 5, 10, 30, 60];

    [Fact]
    public async Task PromQLCountsTheClientsRequestsAndAgreesOnTheirP95()
    {
        using var prometheus = await PrometheusServer.StartAsync(silo.Scratch("prometheus"), silo.HttpPort, TelemetrySilo.Token);
        // A successful scrape before the load: the token is accepted, so the wait below can only be for the load's series.
        await Eventually.UntilAsync("prometheus has scraped the silo", TimeSpan.FromSeconds(30),
            async () => await prometheus.QueryScalarAsync("""up{job="moe-silo"}""") == 1,
            () => Diagnostics(prometheus));

        StreamedRequest[] load = await silo.StreamAsync(
            Enumerable.Range(0, Requests).Select(i => $"Prometheus request {i}"), MaxTokens);
        double clientP95 = NearestRank(load.Select(r => r.Duration.TotalSeconds), 0.95);
        double streamingP95 = NearestRank(load.Select(r => r.StreamingTime.TotalSeconds), 0.95);

        double? counted = null;
        await Eventually.UntilAsync($"PromQL counts {Requests} successful requests", TimeSpan.FromSeconds(45),
            async () => (counted = await prometheus.QueryScalarAsync(RequestCount)) >= Requests,
            () => $"last {RequestCount} = {counted}\n" + Diagnostics(prometheus));
        Assert.Equal(Requests, counted);

        double serverP95 = (await prometheus.QueryScalarAsync(ServerP95))!.Value;
        output.WriteLine($"client p95 {clientP95:F3} s, streaming p95 {streamingP95:F3} s (nearest rank of {Requests}), Prometheus p95 {serverP95:F3} s");
        // Tolerance from what each side times and from bucket resolution, not timing noise.
        // - The server times a request from receipt to its last token. That lies inside what the client times
        //   (call to stream end, which adds the gateway hop and any wait before the router takes the call), and
        //   contains what the client sees from its first token to its last (both ends one hop late, and the
        //   server's time to first token is far longer than the hops differ). So, sample by sample and therefore
        //   rank by rank, streaming time <= server time <= client time. Under load in CI the client's p95 has
        //   been 0.8 s above the server's (2.75 s against 1.96 s), so the client's figure is only an upper bound.
        // - histogram_quantile knows only the bucket a sample fell in and interpolates inside it: its answer lies
        //   in the bucket holding the server's sample at rank 0.95 n.
        // - The silo replays ~1 %-accurate sketches into the buckets, so a sample near a bound may land one
        //   bucket off: one bucket below the streaming figure's, and the client's figure is widened by 1 %.
        int low = BucketOf(streamingP95), high = BucketOf(clientP95 * 1.01);
        Assert.True(high >= 0, $"client p95 {clientP95} s is beyond the last bucket");
        double lower = low >= 2 ? Buckets[low - 2] : 0, upper = Buckets[high];
        Assert.True(serverP95 > lower && serverP95 <= upper,
            $"Prometheus p95 {serverP95:F3} s is outside ({lower}, {upper}], the buckets between the client's streaming p95 {streamingP95:F3} s and its end-to-end p95 {clientP95:F3} s");
    }

    static int BucketOf(double seconds) => Array.FindIndex(Buckets, b => seconds <= b);

    /// <summary>The nearest-rank quantile, the sample that histogram_quantile's rank q·n falls on.</summary>
    static double NearestRank(IEnumerable<double> samples, double q)
    {
        double[] sorted = samples.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    string Diagnostics(PrometheusServer prometheus) =>
        prometheus.StderrTail() + "\n" + prometheus.TargetsAsync().GetAwaiter().GetResult() + "\n" + silo.Diagnostics();
}
