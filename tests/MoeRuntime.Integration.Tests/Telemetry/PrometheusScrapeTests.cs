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

        double? counted = null;
        await Eventually.UntilAsync($"PromQL counts {Requests} successful requests", TimeSpan.FromSeconds(45),
            async () => (counted = await prometheus.QueryScalarAsync(RequestCount)) >= Requests,
            () => $"last {RequestCount} = {counted}\n" + Diagnostics(prometheus));
        Assert.Equal(Requests, counted);

        double serverP95 = (await prometheus.QueryScalarAsync(ServerP95))!.Value;
        output.WriteLine($"client p95 {clientP95:F3} s (nearest rank of {Requests}), Prometheus p95 {serverP95:F3} s");
        // Tolerance from bucket resolution, not timing noise. histogram_quantile only knows which bucket a
        // sample fell in and interpolates linearly inside it, so its answer lies somewhere in the bucket
        // holding the server-side p95 sample. The server times a request from receipt to its last token,
        // a sub-interval of what the client times (which adds the gateway hop both ways), and the silo
        // replays ~1 %-accurate sketches into the buckets: a sample near a bound may land one bucket
        // lower than the client's figure. So the answer must lie between the lower bound of the bucket
        // below the client's p95 bucket and the upper bound of the client's p95 bucket.
        int bucket = Array.FindIndex(Buckets, b => clientP95 <= b);
        Assert.True(bucket >= 0, $"client p95 {clientP95} s is beyond the last bucket");
        double lower = bucket >= 2 ? Buckets[bucket - 2] : 0, upper = Buckets[bucket];
        Assert.True(serverP95 > lower && serverP95 <= upper,
            $"Prometheus p95 {serverP95:F3} s is outside ({lower}, {upper}] around the client's p95 {clientP95:F3} s");
    }

    /// <summary>The nearest-rank quantile, the sample that histogram_quantile's rank q·n falls on.</summary>
    static double NearestRank(IEnumerable<double> samples, double q)
    {
        double[] sorted = samples.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    string Diagnostics(PrometheusServer prometheus) =>
        prometheus.StderrTail() + "\n" + prometheus.TargetsAsync().GetAwaiter().GetResult() + "\n" + silo.Diagnostics();
}
