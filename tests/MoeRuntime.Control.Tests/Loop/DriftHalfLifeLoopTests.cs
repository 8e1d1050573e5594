using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;
using Xunit.Abstractions;

namespace MoeRuntime.Control.Tests.Loop;

/// <summary>
/// The loop shortens both controllers' demand half-life while the cluster's largest layer PSI is over the threshold,
/// records each switch once, and so follows a shift of the mix in fewer intervals. One rank of 8 experts, room for 4
/// hot, no latency measured (the whole hot budget is the allowance), the cost controller off; intervals are driven by
/// the test, so nothing depends on timing.
/// </summary>
public sealed class DriftHalfLifeLoopTests(ITestOutputHelper output)
{
    const double Steady = 0.02, Drifting = 0.45, Settled = 0.1;
    static readonly int[] OldMix = [0, 1, 2, 3], NewMix = [4, 5, 6, 7];

    sealed class Run
    {
        readonly ManualTime _time = new();
        public FakeTierControlPort Port { get; } = new();
        public FakeRank Rank { get; }
        public TierControlLoop Loop { get; }

        public Run(double halfLife, bool drift)
        {
            Rank = Port.Ranks[0] = new FakeRank(8) { HotCeilingBytes = 4_000, HotLimitBytes = 4_000 };
            Loop = new TierControlLoop("m", new TierControlLoopOptions
            {
                CostEnabled = false,
                // The silo gives both controllers the latency section's half-life.
                Cost = new CostControllerOptions { DemandHalfLifeIntervals = halfLife },
                TransientHeadroomExperts = 0,
                Latency = new LatencyControllerOptions
                {
                    DemandHalfLifeIntervals = halfLife,
                    DriftHalfLife = new DriftHalfLifeOptions { Enabled = drift },
                },
            }, Port, _time, NullLogger.Instance);
        }

        /// <summary>One interval in which each expert of <paramref name="mix"/> was used 100 times, with the cluster's PSI at <paramref name="psi"/>.</summary>
        public async Task IntervalAsync(int[] mix, double psi)
        {
            foreach (int e in mix) Rank.Uses[Ranks.Key(e)] += 100;
            Port.RoutingPsi = psi;
            _time.Advance(Ranks.Interval);
            await Loop.RunAsync();
            Assert.Null(Loop.LastError);
            Assert.True(Rank.Tiers.Count(t => t.Value == Tier.Hot) <= 4, "hot over its budget");
        }

        public bool Hot(int[] mix) => mix.All(e => Rank.Tiers[Ranks.Key(e)] == Tier.Hot);

        public IReadOnlyList<ControlDecision> HalfLifeRecords =>
            [.. Port.Records.Select(r => r.Decision).Where(d => d.Change.StartsWith("demand half-life", StringComparison.Ordinal))];
    }

    /// <summary>
    /// Twelve intervals of the old mix, then the new one; the cluster's PSI crosses the threshold from the second
    /// interval of the new mix (the drift windows lag the shift). Returns the interval of the new mix after which all
    /// of its experts are hot.
    /// </summary>
    static async Task<int> IntervalsToFollowAsync(Run run)
    {
        for (int i = 0; i < 12; i++) await run.IntervalAsync(OldMix, Steady);
        Assert.True(run.Hot(OldMix), "the old mix is not hot before the shift");
        for (int i = 1; i <= 20; i++)
        {
            await run.IntervalAsync(NewMix, i == 1 ? Steady : Drifting);
            if (run.Hot(NewMix)) return i;
        }
        Assert.Fail("the new mix was not hot after 20 intervals");
        return -1;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(6)]
    public async Task AShiftWithDriftGetsTheNewExpertsHotInFewerIntervals(double halfLife)
    {
        var without = new Run(halfLife, drift: false);
        var with = new Run(halfLife, drift: true);
        int slow = await IntervalsToFollowAsync(without);
        int fast = await IntervalsToFollowAsync(with);

        output.WriteLine($"half-life {halfLife}: the new experts are hot after {fast} intervals of the new mix with drift, {slow} without");
        Assert.True(fast < slow, $"half-life {halfLife}: new experts hot after {fast} intervals with drift, {slow} without");
        Assert.Empty(without.HalfLifeRecords);
        Assert.False(without.Loop.DemandHalfLifeShortened);
        Assert.True(with.Loop.DemandHalfLifeShortened);
    }

    [Fact]
    public async Task EachSwitchIsRecordedOnceWithThePsiAndTheHalfLives()
    {
        var run = new Run(6, drift: true);
        for (int i = 0; i < 5; i++) await run.IntervalAsync(OldMix, Steady);
        Assert.Empty(run.HalfLifeRecords);

        for (int i = 0; i < 4; i++) await run.IntervalAsync(NewMix, Drifting);
        ControlDecision shortened = Assert.Single(run.HalfLifeRecords);
        Assert.Equal("demand half-life 6 → 3 intervals (latency), 6 → 3 (cost)", shortened.Change);
        Assert.Equal(Drifting, shortened.Inputs["max_layer_psi"]);
        Assert.Equal(0.25, shortened.Inputs["psi_threshold"]);
        Assert.Equal(6, shortened.Inputs["latency_half_life_intervals"]);
        Assert.Equal(6, shortened.Inputs["cost_half_life_intervals"]);
        Assert.Equal("latency", shortened.Controller);
        Assert.Null(shortened.Rank);
        Assert.Equal(DecisionOutcome.Applied, shortened.Outcome);
        Assert.Contains("0.45 over 0.25", shortened.Reason, StringComparison.Ordinal);

        // Between the restore level and the threshold it holds; under the restore level it is restored, once.
        await run.IntervalAsync(NewMix, 0.22);
        Assert.Single(run.HalfLifeRecords);
        for (int i = 0; i < 3; i++) await run.IntervalAsync(NewMix, Settled);
        Assert.Equal(2, run.HalfLifeRecords.Count);
        ControlDecision restored = run.HalfLifeRecords[1];
        Assert.Equal("demand half-life 3 → 6 intervals (latency), 3 → 6 (cost)", restored.Change);
        Assert.Equal(Settled, restored.Inputs["max_layer_psi"]);
        Assert.Equal(0.2, restored.Inputs["restore_below_psi"]);
        Assert.Equal(3, restored.Inputs["latency_half_life_intervals"]);
        Assert.False(run.Loop.DemandHalfLifeShortened);
    }

    [Fact]
    public async Task SwitchingTheRuleOffByReloadRestoresTheConfiguredHalfLife()
    {
        var run = new Run(4, drift: true);
        await run.IntervalAsync(OldMix, Drifting);
        Assert.True(run.Loop.DemandHalfLifeShortened);

        TierControlLoopOptions options = run.Loop.Options;
        run.Loop.Reconfigure(options with { Latency = options.Latency with { DriftHalfLife = new DriftHalfLifeOptions { Enabled = false } } });
        await run.IntervalAsync(OldMix, Drifting);
        Assert.False(run.Loop.DemandHalfLifeShortened);
        Assert.Equal(2, run.HalfLifeRecords.Count);
        Assert.Equal("demand half-life 2 → 4 intervals (latency), 2 → 4 (cost)", run.HalfLifeRecords[1].Change);
        Assert.Contains("switched off", run.HalfLifeRecords[1].Reason, StringComparison.Ordinal);
    }
}
