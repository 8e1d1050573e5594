using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests;

public class RankCollectorTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static (RankCollector Collector, ManualClock Clock) NewCollector(int sampleEvery = 4, CostRates? costs = null)
    {
        var clock = new ManualClock(Start);
        var collector = new RankCollector(new RankCollectorOptions
        {
            RankId = "rank-0",
            Model = "tiny-moe",
            Layers = 4,
            Experts = 8,
            SampleEveryNTokens = sampleEvery,
            DigestCapacity = 64,
            Costs = costs ?? new CostRates(),
            Clock = clock,
        });
        return (collector, clock);
    }

    [Fact]
    public void ACounterRefusesANegativeAmountAndKeepsItsTotal()
    {
        var (collector, _) = NewCollector();
        var bytes = collector.Counter(MoeMetrics.PrefetchBytesTotal, "hot");
        bytes.Add(5);
        Assert.Throws<ArgumentOutOfRangeException>(() => bytes.Add(-1));
        Assert.Equal(5, bytes.Value);
        Assert.Equal(5, Assert.Single(collector.CollectSummary().Counters).Delta);
    }

    [Fact]
    public void CountersAreReportedAsDeltasPerInterval()
    {
        var (collector, clock) = NewCollector();
        var ok = collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none");
        ok.Add(3);
        clock.Now = Start.AddSeconds(1);
        var first = collector.CollectSummary();
        ok.Increment();
        clock.Now = Start.AddSeconds(2);
        var second = collector.CollectSummary();
        var third = collector.CollectSummary();

        Assert.Equal(3, Assert.Single(first.Counters).Delta);
        Assert.Equal(1, Assert.Single(second.Counters).Delta);
        Assert.Empty(third.Counters);
        Assert.Equal(4, ok.Value);
        Assert.Equal((1, 2, 3), (first.Sequence, second.Sequence, third.Sequence));
        Assert.Equal((Start, Start.AddSeconds(1)), (first.IntervalStart, first.IntervalEnd));
        Assert.Equal(first.IntervalEnd, second.IntervalStart);
    }

    [Fact]
    public void RegisteringTheSameSeriesTwiceSharesItsSlot()
    {
        var (collector, _) = NewCollector();
        collector.Counter(MoeMetrics.TokensTotal, "prompt").Add(5);
        collector.Counter(MoeMetrics.TokensTotal, "prompt").Add(7);
        Assert.Equal(12, Assert.Single(collector.CollectSummary().Counters).Delta);
    }

    [Fact]
    public void GaugesReportTheirLastValue()
    {
        var (collector, _) = NewCollector();
        var active = collector.Gauge(MoeMetrics.ActiveRequests, "stream");
        active.Add(1);
        active.Add(1);
        active.Add(-1);
        collector.Gauge(MoeMetrics.KvCacheBytes).Set(1 << 20);
        var gauges = collector.CollectSummary().Gauges;
        Assert.Equal(1, gauges.Single(g => g.Metric == MoeMetrics.ActiveRequests).Value);
        Assert.Equal(1 << 20, gauges.Single(g => g.Metric == MoeMetrics.KvCacheBytes).Value);
    }

    [Fact]
    public void SketchesAreReportedAsDeltas()
    {
        var (collector, _) = NewCollector();
        var ttft = collector.Histogram(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        for (var i = 1; i <= 100; i++) ttft.Record(i / 1000.0);
        var first = collector.CollectSummary();
        ttft.Record(2);
        var second = collector.CollectSummary();

        var sketch = Assert.Single(first.Sketches).Sketch;
        Assert.Equal(100, sketch.Count);
        Assert.Equal(0.050, sketch.Quantile(0.5), 0.050 * 0.01);
        Assert.Equal(1, Assert.Single(second.Sketches).Sketch.Count);
    }

    [Fact]
    public void SampledPerTokenMetricsRecordEveryNthTokenAndOthersEveryValue()
    {
        var (collector, _) = NewCollector(sampleEvery: 4);
        var tpot = collector.Histogram(MoeMetrics.TimePerOutputTokenSeconds, "stream");
        var e2e = collector.Histogram(MoeMetrics.RequestDurationSeconds, "stream");
        var tokens = collector.Counter(MoeMetrics.TokensTotal, "completion");
        for (var position = 0; position < 100; position++)
        {
            tpot.RecordToken(position, 0.02);
            e2e.RecordToken(position, 0.5);
            tokens.Increment();
        }
        var summary = collector.CollectSummary();
        Assert.Equal(25, summary.Sketches.Single(s => s.Metric == MoeMetrics.TimePerOutputTokenSeconds).Sketch.Count);
        Assert.Equal(100, summary.Sketches.Single(s => s.Metric == MoeMetrics.RequestDurationSeconds).Sketch.Count);
        Assert.Equal(100, summary.Counters.Single().Delta);
        Assert.Equal(4, summary.SampleEveryNTokens);
    }

    [Fact]
    public void ExpertAndLayerMatricesAreReportedAsDeltas()
    {
        var (collector, _) = NewCollector();
        collector.RecordExpertHits(layer: 2, expert: 5, tokens: 3);
        collector.RecordExpertHits(2, 5);
        collector.RecordExpertCompute(2, 5, 1_000);
        collector.RecordLayerCompute(3, 2_000);
        var first = collector.CollectSummary();
        collector.RecordExpertHits(0, 0);
        var second = collector.CollectSummary();

        Assert.Equal((4, 8), (first.ExpertHits.Rows, first.ExpertHits.Columns));
        Assert.Equal(4, first.ExpertHits[2, 5]);
        Assert.Equal(4, first.ExpertHits.RowTotal(2));
        Assert.Equal(1_000, first.ExpertComputeNanoseconds[2, 5]);
        Assert.Equal(2_000, first.LayerComputeNanoseconds[0, 3]);
        Assert.Equal(0, second.ExpertHits[2, 5]);
        Assert.Equal(1, second.ExpertHits[0, 0]);
        Assert.Throws<ArgumentOutOfRangeException>(() => collector.RecordExpertHits(4, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => collector.RecordExpertHits(0, 8));
    }

    [Fact]
    public void ATierAccessIsAHitWhereFoundAMissAboveAndAFetchBelowHot()
    {
        var (collector, _) = NewCollector();
        collector.RecordTierAccess(1, StorageTier.Hot);
        collector.RecordTierAccess(1, StorageTier.Warm, fetchNanoseconds: 200_000);
        collector.RecordTierAccess(1, StorageTier.Cold, fetchNanoseconds: 30_000_000);
        var summary = collector.CollectSummary();

        Assert.Equal([1L, 1L, 1L], Enumerable.Range(0, 3).Select(t => summary.TierHits[t, 1]));
        Assert.Equal([2L, 1L, 0L], Enumerable.Range(0, 3).Select(t => summary.TierMisses[t, 1]));
        Assert.Equal([0L, 200_000L, 30_000_000L], Enumerable.Range(0, 3).Select(t => summary.TierFetchNanoseconds[t, 1]));
        var fetch = summary.Sketches.Where(s => s.Metric == MoeMetrics.TierFetchSeconds).ToDictionary(s => s.Labels[0], s => s.Sketch);
        Assert.Equal(0.0002, fetch["warm"].Max, 1e-15);
        Assert.Equal(0.03, fetch["cold"].Max, 1e-15);
    }

    [Fact]
    public void RoutingDigestsTravelInTheNextSummaryAndOverflowIsCounted()
    {
        var (collector, _) = NewCollector();
        var request = RoutingDigest.HashRequestId("req-1");
        var digest = RoutingDigest.Compute([1, 4], [0.7f, 0.3f]);
        for (var position = 0; position < 100; position++) collector.RecordRoutingDigest(request, 2, position, digest);
        var summary = collector.CollectSummary();

        Assert.Equal(64, summary.RoutingDigests.Count);
        Assert.Equal(new RoutingDigestRecord(request, 2, 36, digest), summary.RoutingDigests[0]);
        var dropped = summary.Counters.Single(c => c.Metric == MoeMetrics.TelemetryDroppedTotal);
        Assert.Equal(["digest_overflow"], dropped.Labels);
        Assert.Equal(36, dropped.Delta);
        Assert.Empty(collector.CollectSummary().RoutingDigests);
    }

    [Fact]
    public void SeriesOverTheCapAreRefusedRecordNowhereAndAreCounted()
    {
        var (collector, _) = NewCollector();
        var capped = new MetricDefinition("moe_test_capped_total", MetricKind.Counter, "1", "test", [MetricLabels.Layer], maxSeries: 2);
        Assert.Throws<ArgumentException>(() => collector.Counter(capped, "0")); // not in the catalogue's slots

        foreach (var route in MetricLabels.Route.Values)
            foreach (var status in MetricLabels.Status.Values)
                foreach (var error in MetricLabels.ErrorType.Values)
                    collector.Counter(MoeMetrics.RequestsTotal, route, status, error).Increment();

        var summary = collector.CollectSummary();
        var admitted = summary.Counters.Where(c => c.Metric == MoeMetrics.RequestsTotal).ToList();
        Assert.Equal(MoeMetrics.RequestsTotal.MaxSeries, admitted.Count);
        var refused = MetricLabels.Route.Values.Count * MetricLabels.Status.Values.Count * MetricLabels.ErrorType.Values.Count - MoeMetrics.RequestsTotal.MaxSeries;
        Assert.Equal(refused, collector.RefusedSeries);
        Assert.Equal(refused, summary.Counters.Single(c => c.Metric == MoeMetrics.TelemetryDroppedTotal).Delta);
    }

    [Fact]
    public void OnlyHandleRecordedMetricsOfTheRightKindCanBeRegistered()
    {
        var (collector, _) = NewCollector();
        Assert.Throws<ArgumentException>(() => collector.Counter(MoeMetrics.ExpertHitsTotal, "0", "0"));
        Assert.Throws<ArgumentException>(() => collector.Gauge(MoeMetrics.KvCacheHitRatio));
        Assert.Throws<ArgumentException>(() => collector.Histogram(MoeMetrics.RequestsTotal, "generate", "success", "none"));
        Assert.Throws<ArgumentException>(() => collector.Counter(MoeMetrics.TokensTotal, "reasoning"));
    }

    [Fact]
    public void CostsFollowTheConfiguredRates()
    {
        var (collector, clock) = NewCollector(costs: new CostRates
        {
            PromptUsdPer1kTokens = 0.0015,
            CompletionUsdPer1kTokens = 0.006,
            HotUsdPerGbHour = 2.0,
        });
        collector.Counter(MoeMetrics.TokensTotal, "prompt").Add(2_000);
        collector.Counter(MoeMetrics.TokensTotal, "completion").Add(500);
        collector.Gauge(MoeMetrics.TierMemoryBytes, "hot").Set(4e9);
        clock.Now = Start.AddMinutes(30);
        var costs = collector.CollectSummary().Counters
            .Where(c => c.Metric.Source == MetricSource.Computed)
            .ToDictionary(c => (c.Metric.Name, c.Labels[0]), c => c.Delta);

        Assert.Equal(0.003, costs[("moe_token_cost_usd_total", "prompt")], 1e-12);
        Assert.Equal(0.003, costs[("moe_token_cost_usd_total", "completion")], 1e-12);
        Assert.Equal(4.0, costs[("moe_tier_cost_usd_total", "hot")], 1e-12);
        Assert.Equal(3, costs.Count);
    }

    [Fact]
    public void SummariesTakenWhileThreadsRecordAddUpToEverythingRecorded()
    {
        const int threads = 3, perThread = 100_000;
        var (collector, _) = NewCollector();
        var tokens = collector.Counter(MoeMetrics.TokensTotal, "completion");
        var step = collector.Histogram(MoeMetrics.DecodeStepSeconds, "1", "1-512");
        var summaries = new List<RankSummary>();
        using var stop = new CancellationTokenSource();
        var collecting = new Thread(() =>
        {
            while (!stop.IsCancellationRequested) summaries.Add(collector.CollectSummary());
        });
        collecting.Start();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            for (var i = 0; i < perThread; i++)
            {
                tokens.Increment();
                step.Record(0.001 * (1 + i % 50));
                collector.RecordExpertHits(i % 4, t);
            }
        });
        stop.Cancel();
        collecting.Join();
        summaries.Add(collector.CollectSummary());

        Assert.Equal(threads * perThread, summaries.SelectMany(s => s.Counters).Where(c => c.Metric == MoeMetrics.TokensTotal).Sum(c => c.Delta));
        Assert.Equal(threads * perThread, summaries.SelectMany(s => s.Sketches).Sum(s => s.Sketch.Count));
        for (var t = 0; t < threads; t++)
            Assert.Equal(perThread, summaries.Sum(s => Enumerable.Range(0, 4).Sum(layer => s.ExpertHits[layer, t])));
        Assert.Equal(Enumerable.Range(1, summaries.Count).Select(i => (long)i), summaries.Select(s => s.Sequence));
    }

    [Fact]
    public void TheHotPathAllocatesNothing()
    {
        var (collector, _) = NewCollector();
        var counter = collector.Counter(MoeMetrics.DispatchBytesTotal, "sent");
        var gauge = collector.Gauge(MoeMetrics.QueueDepth, "generate");
        var sketch = collector.Histogram(MoeMetrics.TokenComputeSeconds, "expert", "cpu");
        void RecordAll(int i)
        {
            counter.Add(4096);
            gauge.Add(1);
            sketch.Record(i * 1e-6);
            sketch.RecordToken(i, 1e-5);
            collector.RecordExpertHits(i % 4, i % 8);
            collector.RecordExpertCompute(i % 4, i % 8, 1_000);
            collector.RecordLayerCompute(i % 4, 1_000);
            collector.RecordTierAccess(i % 4, (StorageTier)(i % 3), 1_000);
            collector.RecordRoutingDigest(7, i % 4, i, 42);
        }
        RecordAll(1); // JIT outside the measurement
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++) RecordAll(i);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
