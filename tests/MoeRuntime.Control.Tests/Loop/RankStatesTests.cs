using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Loop;

public sealed class RankStatesTests
{
    static readonly ExpertHolding[] Holdings =
    [
        new(Ranks.Key(0), Tier.Hot, 400, 200),
        new(Ranks.Key(1), Tier.Warm, 500, 250),
        new(Ranks.Key(2), Tier.Cold, 400, 200),
    ];

    static RankInterval Uses(params long[] uses) =>
        new(false, 0, TierFetchStats.None, TierFetchStats.None, uses.Select((u, i) => (Key: Ranks.Key(i), u)).ToDictionary(p => p.Key, p => p.u));

    [Fact]
    public void TheHotBudgetKeepsRoomForTransientCopiesOfTheLargestExpert()
    {
        RankState state = RankStates.Build(0, new TierBudgets(2000, 1000), Holdings, Uses(3, 0, 7), new Dictionary<ExpertKey, Tier>(), 1);
        Assert.Equal(1500, state.Budgets.HotBytes);
        Assert.Equal(1000, state.Budgets.WarmBytes);
        Assert.Equal([3L, 0, 7], state.Experts.Select(e => e.Uses));
        Assert.Equal(400, state.BytesUsed(Tier.Hot));
        Assert.Equal(0, RankStates.Build(0, new TierBudgets(300, 1000), Holdings, Uses(), new Dictionary<ExpertKey, Tier>(), 1).Budgets.HotBytes);
    }

    [Fact]
    public void PinsOfTheRanksExpertsBecomePinnedStates()
    {
        var pins = new Dictionary<ExpertKey, Tier> { [Ranks.Key(1)] = Tier.Warm, [Ranks.Key(9)] = Tier.Hot };
        RankState state = RankStates.Build(0, new TierBudgets(2000, 1000), Holdings, Uses(), pins, 0);
        Assert.Equal([null, Tier.Warm, null], state.Experts.Select(e => e.Pinned));
    }

    [Fact]
    public void AfterMovesTheNextControllerSeesTheNewTiers()
    {
        RankState state = RankStates.Build(0, new TierBudgets(2000, 1000), Holdings, Uses(), new Dictionary<ExpertKey, Tier>(), 0);
        RankState after = RankStates.After(state, [new TierMove(Ranks.Key(2), Tier.Cold, Tier.Hot, 1, "busy"), new TierMove(Ranks.Key(0), Tier.Hot, Tier.Warm, 0, "idle")]);
        Assert.Equal([Tier.Warm, Tier.Warm, Tier.Hot], after.Experts.Select(e => e.Tier));
        Assert.Equal(400, after.BytesUsed(Tier.Hot));
        Assert.Equal(450, after.BytesUsed(Tier.Warm));
    }

    // Ceiling 2000, headroom one largest expert (500): the controller plans within 1500; expert 0 (400) is hot.
    [Theory]
    // The allowance plus the headroom, never over the ceiling; without an allowance, the ceiling.
    [InlineData(null, 2000, 2000, 2000, 2000)]
    [InlineData(1500L, 2000, 2000, 2000, 2000)]
    [InlineData(700L, 2000, 2000, 2000, 1200)]
    // Never under what is assigned hot (pins can hold more than the allowance).
    [InlineData(0L, 2000, 2000, 2000, 900)]
    // Falls by at most the release step, rises at once.
    [InlineData(0L, 2000, 2000, 100, 1900)]
    [InlineData(0L, 2000, 1100, 100, 1000)]
    [InlineData(0L, 2000, 950, 100, 900)]
    [InlineData(1500L, 2000, 900, 100, 2000)]
    // A limit over a lowered ceiling comes under it at once, then falls step by step.
    [InlineData(700L, 1500, 3000, 100, 1400)]
    public void TheHotLimitIsTheAllowancePlusTheHeadroomUnderTheCeiling(long? allowance, long ceiling, long current, long release, long expected)
    {
        RankState state = RankStates.Build(0, new TierBudgets(2000, 1000), Holdings, Uses(), new Dictionary<ExpertKey, Tier>(), 1);
        Assert.Equal(expected, RankStates.HotLimit(state, allowance, ceiling, current, release));
    }

    [Fact]
    public void TheHotLimitCoversWhatIsAssignedAndRoomForOneCallsCopy()
    {
        // No headroom configured: the limit still keeps room for the largest expert (500) over what is assigned (400).
        RankState none = RankStates.Build(0, new TierBudgets(2000, 1000), Holdings, Uses(), new Dictionary<ExpertKey, Tier>(), 0);
        Assert.Equal(900, RankStates.HotLimit(none, 0, 2000, 900, 2000));
        // A pin adds what it holds (400 more) to the limit; the ceiling still caps it.
        RankState state = RankStates.Build(0, new TierBudgets(2000, 1000), Holdings, Uses(), new Dictionary<ExpertKey, Tier>(), 1);
        RankState pinned = RankStates.After(state, [new TierMove(Ranks.Key(2), Tier.Cold, Tier.Hot, 1, "pinned")]);
        Assert.Equal(1300, RankStates.HotLimit(pinned, 100, 2000, 2000, 2000));
        Assert.Equal(2000, RankStates.HotLimit(pinned, 5000, 2000, 900, 100));
        // No expert registered yet: the limit stays as it is.
        RankState empty = RankStates.Build(0, new TierBudgets(2000, 1000), [], Uses(), new Dictionary<ExpertKey, Tier>(), 1);
        Assert.Equal(1700, RankStates.HotLimit(empty, 0, 2000, 1700, 2000));
    }

    [Fact]
    public void WritesNameTheTiersAndSayWhy()
    {
        var at = Ranks.Start;
        var plan = new TierPlan("latency", 0, at,
            [new TierMove(Ranks.Key(2), Tier.Cold, Tier.Hot, 1, "busy"), new TierMove(Ranks.Key(0), Tier.Hot, Tier.Warm, 0, "idle")],
            [new ControlDecision(at, "latency", 0, new Dictionary<string, double>(), "1 promotion", "latency over target", DecisionOutcome.Applied)]);
        Assert.Equal(new Dictionary<string, string> { ["m/0/2"] = "hot", ["m/0/0"] = "warm" }, TierWrites.Tiers(plan.Moves));
        Assert.Equal("latency controller: 1 promotions, 1 demotions (latency over target)", TierWrites.Reason(plan));
    }
}
