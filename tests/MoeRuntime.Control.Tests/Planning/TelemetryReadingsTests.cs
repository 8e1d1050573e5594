using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Drift;

namespace MoeRuntime.Control.Tests.Planning;

public sealed class TelemetryReadingsTests
{
    static LatencySummary Summary(long count, double p50, double p95) => new(count, p50, p50, p95, p95, p95, p95);

    static readonly TelemetryView View = new("cluster", "1m", Ranks.Start, new RankCounts(1, 0, []),
        new RequestRates(0, 0, 0, 0, 0, 0, 0),
        new Dictionary<string, LatencySummary> { [MoeMetrics.TimePerOutputTokenSeconds.Name] = Summary(100, 0.03, 0.08) },
        [],
        [
            new TierStatus("hot", 90, 0, 1, null, 0, 0, 0),
            new TierStatus("warm", 5, 3, 0.6, Summary(3, 0.002, 0.004), 0, 0, 0),
            new TierStatus("cold", 0, 2, 0, null, 0, 0, 0),
        ],
        new PrefetchStatus(0, 0, 0, 0), new TrafficStatus(0, 0, 0), new KvCacheStatus(0, 0, 0, 0), [], new MismatchStatus(0, 0, [], []));

    [Fact]
    public void Reads_p95_latencies_that_were_measured_and_leaves_the_others_unknown()
    {
        Assert.Equal(new ObservedLatency(0.08, null), TelemetryReadings.Latency(View));
    }

    [Fact]
    public void Reads_the_largest_layer_psi_of_routing_drift_and_none_when_the_view_has_no_drift()
    {
        Assert.Null(TelemetryReadings.Cluster(View, Ranks.Interval).MaxRoutingPsi);
        var drift = new RoutingDriftStatus(30, 120, 0.25, 0.44,
            [new LayerDrift(0, 0.44, 0.27, 9000, 20000, true), new LayerDrift(1, 0.3, 0.2, 9000, 20000, true)]);
        Assert.Equal(0.44, TelemetryReadings.Cluster(View with { RoutingDrift = drift }, Ranks.Interval).MaxRoutingPsi);
    }

    [Fact]
    public void Reads_a_tier_s_timed_fetches_and_reports_none_for_an_untimed_tier()
    {
        Assert.Equal(new TierFetchStats(3, 0.002, 0.004, 600), TelemetryReadings.Fetch(View, Tier.Warm, fetchedBytes: 600));
        Assert.Equal(TierFetchStats.None, TelemetryReadings.Fetch(View, Tier.Cold, fetchedBytes: 0));
    }
}
