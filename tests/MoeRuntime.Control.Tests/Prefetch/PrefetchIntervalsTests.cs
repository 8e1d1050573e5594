using MoeRuntime.Control.Prefetch;

namespace MoeRuntime.Control.Tests.Prefetch;

public sealed class PrefetchIntervalsTests
{
    static PrefetchLayerStats L(int layer, long issued, double used, double wasted, long failures = 0, double stall = 0) => new(layer, issued, used, wasted, failures, stall);

    static RankPrefetchCounters Rank(int rank, Guid epoch, params PrefetchLayerStats[] layers) => new(rank, epoch, layers);

    [Fact]
    public void FirstSightIsABaselineThenDeltasAreSummedOverRanks()
    {
        Guid a = Guid.NewGuid(), b = Guid.NewGuid();
        var intervals = new PrefetchIntervals();
        PrefetchLayerStats[] first = intervals.Advance([Rank(0, a, L(0, 5, 100, 50), L(1, 2, 10, 0)), Rank(1, b, L(1, 7, 0, 70, 1, 0.5))], 2);
        Assert.False(PrefetchIntervals.AnyActivity(first));

        PrefetchLayerStats[] second = intervals.Advance([Rank(0, a, L(0, 6, 130, 50), L(1, 4, 10, 20)), Rank(1, b, L(1, 10, 10, 90, 2, 0.75))], 2);
        Assert.Equal(L(0, 1, 30, 0), second[0]);
        Assert.Equal(L(1, 5, 10, 40, 1, 0.25), second[1]);
        Assert.True(PrefetchIntervals.AnyActivity(second));
    }

    [Fact]
    public void RestartedCountersCountFromZeroAndGoneRanksAreForgotten()
    {
        Guid a = Guid.NewGuid();
        var intervals = new PrefetchIntervals();
        intervals.Advance([Rank(0, a, L(0, 10, 100, 100)), Rank(1, Guid.NewGuid(), L(0, 3, 3, 3))], 1);

        // Rank 0 restarted (new epoch); rank 1 is unreachable and keeps its baseline.
        PrefetchLayerStats[] restarted = intervals.Advance([Rank(0, Guid.NewGuid(), L(0, 2, 20, 0))], 1, unreachable: [1]);
        Assert.Equal(L(0, 2, 20, 0), restarted[0]);
        Assert.Contains(1, intervals.KnownRanks);

        // A counter that went down without a new epoch is a restart too; rank 1 has left.
        Guid same = Guid.NewGuid();
        intervals.Advance([Rank(0, same, L(0, 4, 40, 0))], 1);
        PrefetchLayerStats[] dropped = intervals.Advance([Rank(0, same, L(0, 1, 5, 0))], 1);
        Assert.Equal(L(0, 1, 5, 0), dropped[0]);
        Assert.DoesNotContain(1, intervals.KnownRanks);
    }

    [Fact]
    public void LayersOutsideTheModelAreIgnored()
    {
        Guid a = Guid.NewGuid();
        var intervals = new PrefetchIntervals();
        intervals.Advance([Rank(0, a, L(0, 0, 0, 0), L(5, 1, 1, 1))], 1);
        PrefetchLayerStats[] next = intervals.Advance([Rank(0, a, L(0, 1, 8, 0), L(5, 9, 9, 9))], 1);
        Assert.Single(next);
        Assert.Equal(L(0, 1, 8, 0), next[0]);
    }

    [Fact]
    public void OperatorChangesApplyNamedLayersOnlyAndAreDescribed()
    {
        var current = new PrefetchSettings(2, [0.1, 0.2, 0.3]);
        PrefetchSettings next = PrefetchSettingsChanges.Apply(current, null, new Dictionary<int, double> { [1] = 0.5 }, maxLookahead: 3);
        Assert.Equal(2, next.Lookahead);
        Assert.Equal([0.1, 0.5, 0.3], next.Thresholds);
        Assert.Equal("thresholds L1 0.20 → 0.50", PrefetchSettingsChanges.Describe(current, next));
        Assert.Equal("lookahead 2 → 0", PrefetchSettingsChanges.Describe(current, current with { Lookahead = 0 }));
        Assert.StartsWith("no change", PrefetchSettingsChanges.Describe(current, current));
        Assert.True(PrefetchSettingsChanges.Same(current, new PrefetchSettings(2, [0.1, 0.2, 0.3])));

        Assert.Throws<ArgumentException>(() => PrefetchSettingsChanges.Apply(current, 4, new Dictionary<int, double>(), 3));
        Assert.Throws<ArgumentException>(() => PrefetchSettingsChanges.Apply(current, -1, new Dictionary<int, double>(), 3));
        Assert.Throws<ArgumentException>(() => PrefetchSettingsChanges.Apply(current, null, new Dictionary<int, double> { [3] = 0.1 }, 3));
        Assert.Throws<ArgumentException>(() => PrefetchSettingsChanges.Apply(current, null, new Dictionary<int, double> { [0] = double.NaN }, 3));
    }
}
