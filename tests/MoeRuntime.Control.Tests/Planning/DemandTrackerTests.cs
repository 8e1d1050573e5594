using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Planning;

public sealed class DemandTrackerTests
{
    [Fact]
    public void Demand_halves_after_one_half_life_without_uses()
    {
        var tracker = new DemandTracker(halfLifeIntervals: 2, restored: new Dictionary<ExpertKey, double> { [Ranks.Key(0)] = 8 });
        RankState idle = Ranks.Rank(1, 1, Ranks.Expert(0, Tier.Hot));

        tracker.Observe(idle.Experts);
        tracker.Observe(idle.Experts);

        Assert.Equal(4, tracker.Of(Ranks.Key(0)), precision: 9);
    }

    [Fact]
    public void Steady_uses_converge_to_uses_per_interval_and_departed_experts_are_forgotten()
    {
        var tracker = new DemandTracker(halfLifeIntervals: 1);
        RankState busy = Ranks.Rank(1, 1, Ranks.Expert(0, Tier.Cold, uses: 10), Ranks.Expert(1, Tier.Cold, uses: 3));
        for (int i = 0; i < 40; i++) tracker.Observe(busy.Experts);

        Assert.Equal(10, tracker.Of(Ranks.Key(0)), precision: 6);
        tracker.Observe([Ranks.Expert(0, Tier.Cold, uses: 10)]);
        Assert.False(tracker.Demand.ContainsKey(Ranks.Key(1)));
    }

    [Fact]
    public void A_shorter_half_life_keeps_the_demand_learnt_and_decays_faster_from_the_next_interval()
    {
        var tracker = new DemandTracker(halfLifeIntervals: 4, restored: new Dictionary<ExpertKey, double> { [Ranks.Key(0)] = 8 });
        RankState idle = Ranks.Rank(1, 1, Ranks.Expert(0, Tier.Hot));

        tracker.UseHalfLife(1);
        Assert.Equal(8, tracker.Of(Ranks.Key(0)));
        Assert.Equal(1, tracker.HalfLifeIntervals);
        tracker.Observe(idle.Experts);
        Assert.Equal(4, tracker.Of(Ranks.Key(0)), precision: 9);

        tracker.UseHalfLife(4);
        for (int i = 0; i < 4; i++) tracker.Observe(idle.Experts);
        Assert.Equal(2, tracker.Of(Ranks.Key(0)), precision: 9);
        Assert.Equal("halfLifeIntervals", Assert.Throws<ArgumentException>(() => tracker.UseHalfLife(0)).ParamName);
    }

    [Fact]
    public void Rank_demand_applies_a_new_half_life_to_every_rank_it_tracks_and_to_ranks_seen_later()
    {
        var demand = new RankDemand(4);
        RankState busy = Ranks.Rank(1, 1, Ranks.Expert(0, Tier.Cold, uses: 8));
        DemandTracker first = demand.Observe(busy);
        demand.UseHalfLife(2);
        Assert.Equal(2, first.HalfLifeIntervals);
        Assert.Equal(2, demand.Observe(new RankState(1, busy.Budgets, busy.Experts)).HalfLifeIntervals);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Half_life_must_be_a_positive_number_of_intervals(double halfLife) =>
        Assert.Equal("halfLifeIntervals", Assert.Throws<ArgumentException>(() => new DemandTracker(halfLife)).ParamName);
}
