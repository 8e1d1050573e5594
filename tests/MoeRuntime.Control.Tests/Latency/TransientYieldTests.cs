using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Control.Tests.Planning.Ranks;

namespace MoeRuntime.Control.Tests.Latency;

public sealed class TransientYieldTests
{
    // Two hot slots in the plan; expert 0 is used 4 times an interval, expert 1 twice.
    static RankState Interval(long transientHits, long roomBytes) =>
        Rank(2, 8, Expert(0, Tier.Hot, uses: 4), Expert(1, Tier.Hot, uses: 2), Expert(2, Tier.Cold, uses: 0))
            with { Transient = new TransientUse(transientHits, roomBytes) };

    static TierPlan Run(LatencyControllerOptions options, long transientHits, long roomBytes, int intervals = 40)
    {
        var controller = new LatencyController(options);
        TierPlan plan = null!;
        for (int i = 0; i < intervals; i++) plan = controller.Plan(Input(Interval(transientHits, roomBytes), i));
        return plan;
    }

    [Fact]
    public void An_expert_assigned_hot_is_given_up_while_a_slot_of_transient_copies_earns_more()
    {
        // One slot of transient copies (HotBytes of room) hit 3 times an interval: worth more than expert 1's 2 uses, less than expert 0's 4.
        TierPlan plan = Run(new LatencyControllerOptions { TransientYieldWeight = 1 }, transientHits: 3, roomBytes: HotBytes);

        TierMove move = Assert.Single(plan.Moves);
        Assert.Equal((Key(1), Tier.Hot, Tier.Warm), (move.Expert, move.From, move.To));
        Assert.Contains("transient copies earn more", move.Reason, StringComparison.Ordinal);
        // After 40 intervals of half-life 3 the decayed yield is within 0.1 % of the 3 hits per slot observed each interval.
        Assert.InRange(plan.Decisions[0].Inputs["transient_hits_per_mib"] / (3.0 / HotBytes * 1048576), 0.999, 1.0);
    }

    [Fact]
    public void The_weight_asks_more_of_an_assigned_expert()
    {
        // 1.5 hits per slot: expert 1 (2 uses) beats it alone, not with the weight 1.5 (2.25).
        Assert.Empty(Run(new LatencyControllerOptions { TransientYieldWeight = 1 }, transientHits: 3, roomBytes: 2 * HotBytes).Moves);
        Assert.Equal([Key(1)], Run(new LatencyControllerOptions { TransientYieldWeight = 1.5 }, transientHits: 3, roomBytes: 2 * HotBytes).Moves.Select(m => m.Expert));
    }

    [Fact]
    public void Without_transient_counts_or_with_the_rule_off_the_plan_is_as_before()
    {
        Assert.Empty(Run(new LatencyControllerOptions { TransientYield = false }, transientHits: 100, roomBytes: HotBytes).Moves);
        var controller = new LatencyController(new LatencyControllerOptions());
        TierPlan plan = null!;
        for (int i = 0; i < 40; i++) plan = controller.Plan(Input(Interval(0, 0) with { Transient = null }, i));
        Assert.Empty(plan.Moves);
        Assert.Null(controller.TransientYieldPerByte(0));
    }

    [Fact]
    public void The_yield_is_decayed_like_demand_and_an_interval_without_room_keeps_it()
    {
        var options = new LatencyControllerOptions { DemandHalfLifeIntervals = 1 };
        var controller = new LatencyController(options);
        controller.Plan(Input(Interval(4, HotBytes), 0));
        Assert.Equal(0.5 * 4 / HotBytes, controller.TransientYieldPerByte(0)!.Value, precision: 12);
        controller.Plan(Input(Interval(0, 0), 1));
        Assert.Equal(0.5 * 4 / HotBytes, controller.TransientYieldPerByte(0)!.Value, precision: 12);
        controller.Plan(Input(Interval(0, HotBytes), 2));
        Assert.Equal(0.25 * 4 / HotBytes, controller.TransientYieldPerByte(0)!.Value, precision: 12);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    public void A_bad_weight_is_named(double weight)
    {
        var e = Assert.Throws<ArgumentException>(() => new LatencyController(new LatencyControllerOptions { TransientYieldWeight = weight }));
        Assert.Contains("TransientYieldWeight", e.Message, StringComparison.Ordinal);
    }
}
