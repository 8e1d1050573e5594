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

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Half_life_must_be_a_positive_number_of_intervals(double halfLife) =>
        Assert.Equal("halfLifeIntervals", Assert.Throws<ArgumentException>(() => new DemandTracker(halfLife)).ParamName);
}
