using MoeRuntime.Control.Prefetch;
using static MoeRuntime.Control.Tests.Planning.Ranks;

namespace MoeRuntime.Control.Tests.Prefetch;

public sealed class PrefetchControllerTests
{
    static readonly PrefetchController Controller = new(new PrefetchControllerOptions());

    static PrefetchPlan Plan(int lookahead, params PrefetchLayerStats[] layers) =>
        Controller.Plan(new PrefetchInput(Start, TimeSpan.FromSeconds(5), new PrefetchSettings(lookahead, [0.3, 0.3, 0.3]), layers));

    [Fact]
    public void High_waste_lowers_lookahead_and_raises_the_wasteful_layer_s_threshold()
    {
        PrefetchPlan plan = Plan(3, new PrefetchLayerStats(1, 100, UsedBytes: 200, WastedBytes: 800, 0, StallSeconds: 0.5));

        Assert.Equal(2, plan.Settings.Lookahead);
        Assert.Equal([0.3, 0.35, 0.3], plan.Settings.Thresholds.Select(t => Math.Round(t, 9)));
        Assert.Equal(2, plan.Decision.Inputs["lookahead_after"]);
    }

    [Fact]
    public void High_stalls_with_little_waste_raise_lookahead_and_lower_the_stalling_layer_s_threshold()
    {
        PrefetchPlan plan = Plan(1, new PrefetchLayerStats(2, 100, UsedBytes: 900, WastedBytes: 100, 0, StallSeconds: 0.5));

        Assert.Equal(2, plan.Settings.Lookahead);
        Assert.Equal([0.3, 0.3, 0.25], plan.Settings.Thresholds.Select(t => Math.Round(t, 9)));
    }

    [Fact]
    public void Failures_back_off_like_waste()
    {
        PrefetchPlan plan = Plan(2, new PrefetchLayerStats(0, Issued: 100, UsedBytes: 900, WastedBytes: 100, Failures: 20, StallSeconds: 0.5));

        Assert.Equal(1, plan.Settings.Lookahead);
        Assert.True(plan.Settings.Thresholds[0] > 0.3);
    }

    [Theory]
    [InlineData(2, 700, 300, 0.5, 2)]  // stalls high but waste 30 %, inside the dead band: hold
    [InlineData(2, 900, 100, 0.05, 2)] // little waste, stalls 1 % of the interval: hold
    [InlineData(0, 100, 900, 0, 0)]    // never below 0
    [InlineData(4, 900, 100, 1, 4)]    // never above the maximum
    public void Holds_inside_the_dead_band_and_within_bounds(int lookahead, double used, double wasted, double stall, int expected) =>
        Assert.Equal(expected, Plan(lookahead, new PrefetchLayerStats(0, 10, used, wasted, 0, stall)).Settings.Lookahead);

    [Fact]
    public void Rejects_stats_for_a_layer_without_a_threshold_and_options_out_of_range()
    {
        Assert.Throws<ArgumentException>(() => Plan(1, new PrefetchLayerStats(3, 1, 1, 1, 0, 0)));
        Assert.Equal(nameof(PrefetchControllerOptions.LowWasteShare),
            Assert.Throws<ArgumentException>(() => new PrefetchController(new PrefetchControllerOptions { LowWasteShare = 0.6 })).ParamName);
        Assert.Equal(nameof(PrefetchControllerOptions.MaxLookahead),
            Assert.Throws<ArgumentException>(() => new PrefetchController(new PrefetchControllerOptions { MaxLookahead = -1 })).ParamName);
    }
}
