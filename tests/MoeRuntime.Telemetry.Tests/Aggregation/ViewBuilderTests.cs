using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

public class ViewBuilderTests
{
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);
    static readonly MismatchStatus NoMismatches = new(0, 0, [], []);

    [Fact]
    public void LatencyObjectivesReportStatusAndBurnRate()
    {
        TelemetryView view = ViewOf(rank =>
        {
            SketchHandle duration = rank.Collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate");
            for (int i = 0; i < 980; i++) duration.Record(0.5);
            for (int i = 0; i < 20; i++) duration.Record(2.0);
        });

        SloStatus p95 = view.Slos.Single(s => s.Name == "latency_p95");
        Assert.True(p95.Met);
        Assert.Equal(0.5, p95.Actual, 0.005);
        Assert.Equal(0.4, p95.BurnRate, 1e-9); // 2 % over 1.2 s where 5 % may be
        SloStatus p50 = view.Slos.Single(s => s.Name == "latency_p50");
        Assert.False(p50.Met);
        Assert.Equal(2.0, p50.BurnRate, 1e-9); // every request over 0.4 s where half may be
    }

    [Fact]
    public void P99ObjectiveBurnsOnTheSlowestPercent()
    {
        TelemetryView view = ViewOf(rank =>
        {
            SketchHandle duration = rank.Collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate");
            for (int i = 0; i < 970; i++) duration.Record(0.5);
            for (int i = 0; i < 30; i++) duration.Record(4.0);
        });

        SloStatus p99 = view.Slos.Single(s => s.Name == "latency_p99");
        Assert.False(p99.Met);
        Assert.Equal(4.0, p99.Actual, 0.05);
        Assert.Equal(3.0, p99.BurnRate, 1e-9); // 3 % over 2.5 s where 1 % may be
        Assert.True(view.Slos.Single(s => s.Name == "latency_p95").Met);
    }

    [Fact]
    public void ThroughputObjectiveIsAFloorThatNineteenRequestsInTwentyReach()
    {
        TelemetryView view = ViewOf(rank =>
        {
            SketchHandle rates = rank.Collector.Histogram(MoeMetrics.RequestTokensPerSecond, "stream");
            for (int i = 0; i < 900; i++) rates.Record(40);
            for (int i = 0; i < 100; i++) rates.Record(4);
        });

        SloStatus throughput = view.Slos.Single(s => s.Name == "throughput");
        Assert.Equal(10, throughput.Target);
        Assert.Equal(4, throughput.Actual, 0.05); // the 5th percentile
        Assert.False(throughput.Met);
        Assert.Equal(2, throughput.BurnRate, 1e-9); // 10 % under 10 tokens/s where 5 % may be

        TelemetryView fast = ViewOf(rank =>
        {
            SketchHandle rates = rank.Collector.Histogram(MoeMetrics.RequestTokensPerSecond, "stream");
            for (int i = 0; i < 990; i++) rates.Record(40);
            for (int i = 0; i < 10; i++) rates.Record(4);
        });
        SloStatus met = fast.Slos.Single(s => s.Name == "throughput");
        Assert.True(met.Met);
        Assert.Equal(0.2, met.BurnRate, 1e-9);
    }

    [Fact]
    public void ErrorRatioDrivesErrorRateAndAvailabilityBurn()
    {
        TelemetryView view = ViewOf(rank =>
        {
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none").Add(990);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "stream", "timeout", "timeout").Add(10);
        });

        Assert.Equal((1000, 10, 0.01), (view.Requests.Total, view.Requests.Errors, view.Requests.ErrorRatio));
        SloStatus errors = view.Slos.Single(s => s.Name == "error_rate");
        Assert.False(errors.Met);
        Assert.Equal(2, errors.BurnRate, 1e-9);
        SloStatus availability = view.Slos.Single(s => s.Name == "availability");
        Assert.Equal((0.99, false), (availability.Actual, availability.Met));
        Assert.Equal(10, availability.BurnRate, 1e-9);
    }

    [Fact]
    public void AvailabilityCountsOnlyServerCausedFailuresOverValidRequests()
    {
        TelemetryView view = ViewOf(rank =>
        {
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none").Add(995);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "stream", "error", "internal").Add(3);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "stream", "timeout", "timeout").Add(2);
            // Client-caused: neither bad nor valid.
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "error", "invalid_request").Add(400);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "error", "model_not_found").Add(300);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "stream", "error", "cancelled").Add(300);
        });

        // Every failure is still counted as an error of the request table.
        Assert.Equal((2000, 1005), (view.Requests.Total, view.Requests.Errors));
        SloStatus availability = view.Slos.Single(s => s.Name == "availability");
        Assert.Equal(0.995, availability.Actual, 1e-9); // 5 bad of 1000 valid
        Assert.False(availability.Met);
        Assert.Equal(5, availability.BurnRate, 1e-9);
        SloStatus errors = view.Slos.Single(s => s.Name == "error_rate");
        Assert.Equal(0.005, errors.Actual, 1e-9);
        Assert.True(errors.Met);
    }

    [Fact]
    public void OnlyClientCausedFailuresLeaveAvailabilityWhole()
    {
        TelemetryView view = ViewOf(rank =>
        {
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "error", "invalid_request").Add(50);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "stream", "error", "cancelled").Add(50);
        });

        SloStatus availability = view.Slos.Single(s => s.Name == "availability");
        Assert.Equal((1.0, true, 0.0), (availability.Actual, availability.Met, availability.BurnRate));
    }

    [Fact]
    public void ImbalanceIsTheBusiestExpertOverTheMeanOfItsLayer()
    {
        TelemetryView view = ViewOf(rank =>
        {
            for (int e = 0; e < SimulatedRank.Experts; e++)
            {
                rank.Collector.RecordExpertHits(0, e, e == 7 ? 50 : 10);
                rank.Collector.RecordExpertHits(1, e, 5);
            }
        });

        Assert.Equal(50 / 15.0, view.Experts[0].Imbalance, 1e-9);
        Assert.Equal(1, view.Experts[1].Imbalance, 1e-9);
        Assert.Equal(0, view.Experts[2].Imbalance);
        Assert.Equal([10, 10, 10, 10, 10, 10, 10, 50], view.Experts[0].Hits);
    }

    [Fact]
    public void TierHitRatiosOccupancyAndPrefetchEffectiveness()
    {
        TelemetryView view = ViewOf(rank =>
        {
            for (int i = 0; i < 80; i++) rank.Collector.RecordTierAccess(i % SimulatedRank.Layers, StorageTier.Hot);
            for (int i = 0; i < 15; i++) rank.Collector.RecordTierAccess(i % SimulatedRank.Layers, StorageTier.Warm, 2_000_000);
            for (int i = 0; i < 5; i++) rank.Collector.RecordTierAccess(i % SimulatedRank.Layers, StorageTier.Cold, 50_000_000);
            rank.Collector.Gauge(MoeMetrics.TierMemoryBytes, "hot").Set(600);
            rank.Collector.Gauge(MoeMetrics.TierCapacityBytes, "hot").Set(1000);
            rank.Collector.Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "used").Add(300);
            rank.Collector.Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "wasted").Add(100);
        });

        Assert.Equal([0.8, 0.75, 1.0], view.Tiers.Select(t => t.HitRatio));
        Assert.Equal([20L, 5L, 0L], view.Tiers.Select(t => t.Misses));
        Assert.Null(view.Tiers[0].FetchLatency);
        Assert.Equal(0.002, view.Tiers[1].FetchLatency!.P50, 0.00002);
        Assert.Equal(0.6, view.Tiers[0].Occupancy);
        Assert.Equal(0.75, view.Prefetch.Effectiveness);
    }

    [Fact]
    public void RatesDivideByTheSpanTheWindowCovers()
    {
        // One request a second for ten minutes and five seconds, read as the last one lands: mid-slot.
        const int Seconds = 605;
        var rank = new SimulatedRank("rank-0");
        var requests = rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none");
        var windows = new SlidingWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        for (int s = 0; s < Seconds; s++)
        {
            requests.Increment();
            windows.Add(rank.Report(Interval));
        }
        DateTimeOffset now = rank.Clock.Now;

        foreach (TelemetryWindow window in Enum.GetValues<TelemetryWindow>())
        {
            TelemetryView view = ViewBuilder.Build("rank", window, windows.Query(window, now), (_, _) => 0,
                new RankCounts(1, 0, []), NoMismatches, new SloTargets(), now);
            // The 1 h window holds every request: its rate is their total over the hour it spans.
            double expected = window == TelemetryWindow.OneHour ? Seconds / SlidingWindows.Covered(window, now).TotalSeconds : 1;
            // A window's edge can fall on either side of one summary: one interval's share of the span, and 1 % more.
            double slack = Interval.TotalSeconds / SlidingWindows.Covered(window, now).TotalSeconds + 0.01;
            Assert.InRange(view.Requests.PerSecond, expected * (1 - slack), expected * (1 + slack));
        }
    }

    /// <summary>The 1 m view of one rank's one-second summary of what <paramref name="record"/> recorded.</summary>
    [Fact]
    public void PregatingCountersBecomeAccuracyPerLayerAndLookahead()
    {
        TelemetryView view = ViewOf(rank =>
        {
            rank.Collector.Counter(MoeMetrics.PregatingPredictedTotal, "2", "1").Add(40);
            rank.Collector.Counter(MoeMetrics.PregatingActualTotal, "2", "1").Add(50);
            rank.Collector.Counter(MoeMetrics.PregatingHitTotal, "2", "1").Add(30);
            rank.Collector.Counter(MoeMetrics.PregatingPredictedTotal, "1", "1").Add(10);
            rank.Collector.Counter(MoeMetrics.PregatingActualTotal, "1", "1").Add(20);
            rank.Collector.Counter(MoeMetrics.PregatingHitTotal, "1", "1").Add(5);
            rank.Collector.Counter(MoeMetrics.PregatingPredictedTotal, "2", "2").Add(8);
            rank.Collector.Counter(MoeMetrics.PregatingActualTotal, "2", "2").Add(10);
        });

        Assert.Equal(
            [new PregatingAccuracy(1, 1, 10, 20, 5), new PregatingAccuracy(2, 1, 40, 50, 30), new PregatingAccuracy(2, 2, 8, 10, 0)],
            view.Prefetch.Pregating);
        Assert.Equal(0.75, view.Prefetch.Pregating[1].Precision, 12);
        Assert.Equal(0.6, view.Prefetch.Pregating[1].Recall, 12);
    }

    static TelemetryView ViewOf(Action<SimulatedRank> record)
    {
        var rank = new SimulatedRank("rank-0");
        record(rank);
        var tracker = new RankTracker(Interval, 3);
        var windows = new SlidingWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        var summary = rank.Report(Interval);
        tracker.Accept(summary, rank.Clock.Now);
        windows.Add(summary);
        return ViewBuilder.Build("rank-0", TelemetryWindow.OneMinute, windows.Query(TelemetryWindow.OneMinute, rank.Clock.Now),
            tracker.Gauges(rank.Clock.Now), tracker.Counts(rank.Clock.Now), NoMismatches, new SloTargets(), rank.Clock.Now);
    }
}
