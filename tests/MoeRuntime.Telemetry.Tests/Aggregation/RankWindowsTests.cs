using System.Text.Json;
using System.Text.Json.Serialization;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

public class RankWindowsTests
{
    static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    [Fact]
    public void RankViewsAreTheSameAsFromFullWindows()
    {
        // Three minutes of one-second summaries with a gap and a late delivery, read at many instants.
        var rank = new SimulatedRank("rank-3");
        var random = new Random(17);
        var compact = new RankWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        var full = new SlidingWindows(SimulatedRank.Layers, SimulatedRank.Experts, TelemetryWindow.OneMinute);
        RankSummary? held = null;
        int compared = 0;
        for (int second = 1; second <= 180; second++)
        {
            Record(rank.Collector, random);
            RankSummary summary = rank.Report(TimeSpan.FromSeconds(1));
            if (second is > 70 and < 85) continue; // the rank was silent
            if (second == 100) { held = summary; continue; }
            Deliver(summary);
            if (second == 104) Deliver(held!); // four seconds late
            if (second % 7 != 0) continue;
            foreach (TelemetryWindow window in new[] { TelemetryWindow.TwentySeconds, TelemetryWindow.OneMinute })
            {
                Assert.Equal(ViewJson(full.Query(window, rank.Clock.Now), window, rank.Clock.Now), ViewJson(compact.Query(window, rank.Clock.Now), window, rank.Clock.Now));
                AssertSameSnapshot(full.Query(window, rank.Clock.Now), compact.Query(window, rank.Clock.Now));
                compared++;
            }
        }
        Assert.Equal(46, compared); // 23 instants, the silent seconds 77 and 84 skipped, two windows each

        void Deliver(RankSummary s)
        {
            compact.Add(s);
            full.Add(s);
        }
    }

    [Fact]
    public void AnHourOfSummariesKeepsNoMoreThanTheLastMinute()
    {
        var rank = new SimulatedRank("rank-0");
        var windows = new RankWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        SketchHandle duration = rank.Collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate");
        var random = new Random(5);
        for (int second = 1; second <= 3600; second++)
        {
            // Values between 0.1 and 0.2 s fill about 35 of the layout's 1,101 buckets.
            for (int i = 0; i < 20; i++) duration.Record(0.1 + 0.1 * random.NextDouble());
            windows.Add(rank.Report(TimeSpan.FromSeconds(1)));
        }

        Assert.InRange(windows.StoredBuckets, 6 * 30, 6 * 40);
        MergedSnapshot minute = windows.Query(TelemetryWindow.OneMinute, rank.Clock.Now);
        // Whole slots up to now: 50 s older plus the newest, which holds the summaries of its ten seconds so far.
        Assert.InRange(minute.Summaries, 50, 60);
        Assert.Equal(minute.Summaries * 20, minute.Distribution(MoeMetrics.RequestDurationSeconds)!.Count);
    }

    [Fact]
    public void ALateSummaryDoesNotWipeNewerData()
    {
        var rank = new SimulatedRank("rank-0");
        var windows = new RankWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        CounterHandle requests = rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none");
        requests.Add(3);
        RankSummary old = rank.Report(TimeSpan.FromSeconds(1));
        requests.Add(5);
        RankSummary newer = rank.Report(TimeSpan.FromSeconds(60)); // the same slot of the ring, a minute on
        windows.Add(newer);
        windows.Add(old);

        Assert.Equal(5, windows.Query(TelemetryWindow.OneMinute, rank.Clock.Now).CounterTotal(MoeMetrics.RequestsTotal));
    }

    [Fact]
    public void WindowsLongerThanAMinuteAndOtherModelShapesAreRefused()
    {
        var windows = new RankWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        var error = Assert.Throws<ArgumentException>(() => windows.Query(TelemetryWindow.FiveMinutes, SimulatedRank.Start));
        Assert.Contains("5m", error.Message);

        var other = new RankCollector(new RankCollectorOptions { RankId = "rank-1", Model = "m", Layers = 2, Experts = 8 });
        error = Assert.Throws<ArgumentException>(() => windows.Add(other.CollectSummary()));
        Assert.Contains("2 layers x 8 experts", error.Message);
    }

    [Fact]
    public void ACompactSketchReadsBackAsTheMergedDenseSketch()
    {
        var random = new Random(3);
        var merged = new RelativeErrorSketch(SketchLayout.Latency);
        var compact = new CompactSketch(SketchLayout.Latency);
        foreach (double scale in new[] { 0.01, 1.0, 1e-4, 30.0 })
        {
            var part = new RelativeErrorSketch(SketchLayout.Latency);
            for (int i = 0; i < 100; i++) part.Record(scale * Math.Exp(random.NextDouble()));
            part.Record(0);
            part.Record(1e4); // clamped into the last bucket
            merged.Merge(part);
            compact.Add(part);
        }
        compact.Add(new RelativeErrorSketch(SketchLayout.Latency));

        RelativeErrorSketch back = compact.ToSketch();
        Assert.Equal(merged.Buckets.ToArray(), back.Buckets.ToArray());
        Assert.Equal((merged.Count, merged.ZeroCount, merged.OverflowCount, merged.Sum, merged.Min, merged.Max),
            (back.Count, back.ZeroCount, back.OverflowCount, back.Sum, back.Min, back.Max));
        Assert.Throws<ArgumentException>(() => compact.Add(new RelativeErrorSketch(SketchLayout.Magnitude)));
    }

    static void Record(RankCollector collector, Random random)
    {
        SketchHandle duration = collector.Histogram(MoeMetrics.RequestDurationSeconds, random.Next(2) == 0 ? "generate" : "stream");
        for (int i = 0; i < random.Next(0, 30); i++) duration.Record(Math.Exp(-4 + 4 * random.NextDouble()));
        SketchHandle ttft = collector.Histogram(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        for (int i = 0; i < random.Next(0, 10); i++) ttft.Record(Math.Exp(-6 + 3 * random.NextDouble()));
        collector.Counter(MoeMetrics.RequestsTotal, "stream", "success", "none").Add(random.Next(0, 20));
        if (random.Next(4) == 0) collector.Counter(MoeMetrics.RequestsTotal, "stream", "timeout", "timeout").Add(1);
        collector.Counter(MoeMetrics.TokensTotal, "completion").Add(random.Next(0, 500));
        for (int layer = 0; layer < SimulatedRank.Layers; layer++)
        {
            collector.RecordExpertHits(layer, random.Next(SimulatedRank.Experts), random.Next(1, 50));
            collector.RecordExpertCompute(layer, random.Next(SimulatedRank.Experts), random.Next(1_000, 100_000));
            collector.RecordLayerCompute(layer, random.Next(1_000, 100_000));
            collector.RecordTierAccess(layer, (StorageTier)random.Next(3), random.Next(0, 1_000_000));
        }
    }

    static string ViewJson(MergedSnapshot snapshot, TelemetryWindow window, DateTimeOffset now) =>
        JsonSerializer.Serialize(ViewBuilder.Build("rank rank-3", window, snapshot, (_, _) => 0, new RankCounts(1, 0, []),
            new MismatchStatus(0, 0, [], []), new SloTargets(), now), Json);

    static void AssertSameSnapshot(MergedSnapshot expected, MergedSnapshot actual)
    {
        Assert.Equal(expected.Summaries, actual.Summaries);
        Assert.Equal(expected.Counters.Select(c => (c.Metric.Name, string.Join(',', c.Labels), c.Total)).Order(),
            actual.Counters.Select(c => (c.Metric.Name, string.Join(',', c.Labels), c.Total)).Order());
        Assert.Equal(expected.Sketches.Count(), actual.Sketches.Count());
        foreach (SketchTotal s in expected.Sketches)
        {
            RelativeErrorSketch other = actual.Sketches.Single(a => a.Metric == s.Metric && a.Labels.SequenceEqual(s.Labels)).Sketch;
            Assert.Equal(s.Sketch.Buckets.ToArray(), other.Buckets.ToArray());
            Assert.Equal((s.Sketch.Count, s.Sketch.Sum, s.Sketch.Min, s.Sketch.Max), (other.Count, other.Sum, other.Min, other.Max));
        }
        Assert.Equal(expected.ExpertHits, actual.ExpertHits);
        Assert.Equal(expected.ExpertComputeNanoseconds, actual.ExpertComputeNanoseconds);
        Assert.Equal(expected.LayerComputeNanoseconds, actual.LayerComputeNanoseconds);
        Assert.Equal(expected.TierHits, actual.TierHits);
        Assert.Equal(expected.TierMisses, actual.TierMisses);
        Assert.Equal(expected.TierFetchNanoseconds, actual.TierFetchNanoseconds);
    }
}
