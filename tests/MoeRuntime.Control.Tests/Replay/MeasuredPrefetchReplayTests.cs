using MoeRuntime.Control.Prefetch;
using MoeRuntime.Control.Replay;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Control.Tests.Replay;

public sealed class MeasuredPrefetchReplayTests
{
    static readonly ReplayTrace Trace = MixtralLikeTraces.Generate(3, steps: 400);

    static ReplayResult Replay(IReadOnlyList<PregatingAccuracy>? measured, double assumed = 0.8) =>
        ReplaySimulator.Replay(Trace, ReplayPolicies.Create(ReplayPolicies.Lru), new ReplayOptions
        {
            CapacityPerLayer = 3, Prefetch = true, PrefetchAccuracy = assumed, PrefetchMeasured = measured,
        });

    static PregatingAccuracy[] EveryLayer(long predicted, long actual, long hits) =>
        [.. Enumerable.Range(1, Trace.Layers - 1).Select(layer => new PregatingAccuracy(layer, 1, predicted, actual, hits))];

    [Fact]
    public void A_perfect_measurement_prefetches_exactly_what_the_assumed_perfect_accuracy_does()
    {
        ReplayResult assumed = Replay(null, assumed: 1.0);
        ReplayResult measured = Replay(EveryLayer(100, 100, 100), assumed: 0);
        Assert.Equal(assumed.DemandFetches, measured.DemandFetches);
        Assert.Equal(assumed.PrefetchFetches, measured.PrefetchFetches);
        Assert.Equal(0, measured.PrefetchWasted);
    }

    [Fact]
    public void A_measurement_that_never_hits_prefetches_experts_the_step_does_not_use()
    {
        // A wrongly prefetched expert may still be used by a later step before it is evicted, so some prefetches pay off.
        ReplayResult perfect = Replay(EveryLayer(100, 100, 100), assumed: 1.0);
        ReplayResult never = Replay(EveryLayer(100, 100, 0), assumed: 1.0);
        Assert.Equal(1.0, perfect.PrefetchHitRate);
        Assert.True(never.PrefetchFetches > 0);
        Assert.True(never.PrefetchHitRate < 0.5, $"prefetch hit rate {never.PrefetchHitRate:P1}");
        Assert.True(never.DemandFetches > perfect.DemandFetches);
    }

    [Fact]
    public void Lower_measured_recall_leaves_more_demand_fetches()
    {
        ReplayResult good = Replay(EveryLayer(100, 100, 90));
        ReplayResult poor = Replay(EveryLayer(100, 100, 40));
        Assert.True(poor.DemandFetches > good.DemandFetches, $"{poor.DemandFetches} vs {good.DemandFetches}");
    }

    [Fact]
    public void Layers_the_measurement_lacks_keep_the_assumed_accuracy_and_other_lookaheads_are_ignored()
    {
        PregatingAccuracy[] lookaheadTwo = [.. EveryLayer(100, 100, 0).Select(m => m with { Lookahead = 2 })];
        ReplayResult assumed = Replay(null, assumed: 1.0);
        ReplayResult ignored = Replay(lookaheadTwo, assumed: 1.0);
        Assert.Equal(assumed.PrefetchFetches, ignored.PrefetchFetches);
        Assert.Equal(assumed.DemandFetches, ignored.DemandFetches);
    }

    [Fact]
    public void A_measured_layer_the_trace_does_not_have_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Replay([new PregatingAccuracy(Trace.Layers, 1, 10, 10, 5)]));
        Assert.Contains($"layer {Trace.Layers}", e.Message);
    }

    [Fact]
    public void The_accuracy_file_round_trips_and_refuses_bad_entries_naming_them()
    {
        PregatingAccuracy[] entries = [new(1, 1, 40, 50, 30), new(2, 2, 8, 10, 0)];
        string text = PregatingAccuracyFile.Format(entries, "test");
        Assert.Contains("\"precision\": 0.75", text);
        Assert.Equal(entries, PregatingAccuracyFile.Parse(text, "t.json"));

        Assert.Contains("not valid JSON", Assert.Throws<ArgumentException>(() => PregatingAccuracyFile.Parse("{", "t.json")).Message);
        Assert.Contains("version 2", Assert.Throws<ArgumentException>(() => PregatingAccuracyFile.Parse("""{"version":2,"entries":[]}""", "t.json")).Message);
        Assert.Contains("no entries", Assert.Throws<ArgumentException>(() => PregatingAccuracyFile.Parse("""{"version":1,"entries":[]}""", "t.json")).Message);
        Assert.Contains("layer 1 lookahead 1: 9 hits exceed", Assert.Throws<ArgumentException>(() =>
            PregatingAccuracyFile.Parse("""{"version":1,"entries":[{"layer":1,"lookahead":1,"predicted":5,"actual":10,"hits":9}]}""", "t.json")).Message);
        Assert.Contains("lookahead must be at least 1", Assert.Throws<ArgumentException>(() =>
            PregatingAccuracyFile.Parse("""{"version":1,"entries":[{"layer":1,"lookahead":0,"predicted":5,"actual":10,"hits":1}]}""", "t.json")).Message);
        Assert.Contains("listed twice", Assert.Throws<ArgumentException>(() =>
            PregatingAccuracyFile.Parse("""{"version":1,"entries":[{"layer":1,"lookahead":1,"predicted":5,"actual":10,"hits":1},{"layer":1,"lookahead":1,"predicted":5,"actual":10,"hits":1}]}""", "t.json")).Message);
    }
}
