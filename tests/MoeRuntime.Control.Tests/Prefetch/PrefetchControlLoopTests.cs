using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Prefetch;

namespace MoeRuntime.Control.Tests.Prefetch;

public sealed class PrefetchControlLoopTests
{
    static readonly DateTimeOffset At = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    static readonly Guid Epoch = Guid.NewGuid();
    static readonly PrefetchSettings Current = new(1, [0.1, 0.1]);

    // Layer 0 prefetched 10 experts of which 900 of 1000 bytes went unused: a wasteful layer.
    static RankPrefetchCounters Read(long issued, double used, double wasted) =>
        new(0, Epoch, [new PrefetchLayerStats(0, issued, used, wasted, 0, 0), new PrefetchLayerStats(1, 0, 0, 0, 0, 0)]);

    [Fact]
    public void AnIntervalWithoutPrefetchesOrStallsDecidesNothing()
    {
        var loop = new PrefetchControlLoop(new PrefetchControllerOptions());
        loop.Baseline([Read(10, 100, 900)], 2, []);
        Assert.Null(loop.Decide(At, TimeSpan.FromSeconds(5), Current, [Read(10, 100, 900)], 2, [], dryRun: false));
    }

    [Theory]
    [InlineData(false, DecisionOutcome.Applied)]
    [InlineData(true, DecisionOutcome.Proposed)]
    public void AnIntervalsDecisionCarriesItsCountsAndItsOutcome(bool dryRun, DecisionOutcome outcome)
    {
        var loop = new PrefetchControlLoop(new PrefetchControllerOptions());
        loop.Baseline([Read(10, 100, 900)], 2, []);
        PrefetchDecision? decided = loop.Decide(At, TimeSpan.FromSeconds(5), Current, [Read(20, 200, 1800)], 2, [], dryRun);

        Assert.NotNull(decided);
        Assert.Equal(outcome, decided.Decision.Outcome);
        Assert.Equal(PrefetchControlLoop.Controller, decided.Decision.Controller);
        Assert.Null(decided.Decision.Rank);
        Assert.Equal(5, decided.Decision.Inputs["interval_s"]);
        Assert.Equal(1, decided.Decision.Inputs["ranks"]);
        Assert.Equal(10, decided.Decision.Inputs["issued"]);
        Assert.Equal(900, decided.Decision.Inputs["wasted_bytes"]);
        // Wasteful: layer 0's threshold rises; layer 1 saw nothing and keeps its own.
        Assert.True(decided.Changed);
        Assert.True(decided.Settings.Thresholds[0] > Current.Thresholds[0]);
        Assert.Equal(Current.Thresholds[1], decided.Settings.Thresholds[1]);
        Assert.Equal(PrefetchSettingsChanges.Describe(Current, decided.Settings), decided.Decision.Change);
    }
}
