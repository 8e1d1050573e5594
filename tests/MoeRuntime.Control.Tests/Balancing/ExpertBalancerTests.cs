using MoeRuntime.Control.Balancing;

namespace MoeRuntime.Control.Tests.Balancing;

public class ExpertBalancerTests
{
    /// <summary>One layer of six experts dealt round-robin over three ranks, with expert 0 carrying most tokens.</summary>
    static BalancerInput Skewed(double threshold = 1.2, int slots = 4, int maxChanges = 8) => new()
    {
        Load = Loads(600, 100, 100, 100, 50, 50),
        Placement = Enumerable.Range(0, 6).ToDictionary(e => new ExpertId(0, e), e => (IReadOnlyList<int>)[e % 3]),
        LiveRanks = [0, 1, 2],
        SlotsPerRank = slots,
        Threshold = threshold,
        MaxChanges = maxChanges,
    };

    static Dictionary<ExpertId, double> Loads(params double[] tokens) =>
        tokens.Select((t, e) => (t, e)).ToDictionary(p => new ExpertId(0, p.e), p => p.t);

    [Fact]
    public void ASkewedLoadIsBroughtUnderTheThresholdByReplicatingTheHotExpert()
    {
        PlacementPlan plan = ExpertBalancer.Plan(Skewed());

        Assert.Equal(700 / (1000 / 3.0), plan.ImbalanceBefore, 6);
        Assert.True(plan.ImbalanceAfter <= 1.2, $"after {plan.ImbalanceAfter}");
        Assert.True(plan.Replicas[new ExpertId(0, 0)].Length > 1, "the hot expert has replicas");
        Assert.All(plan.Changes, c => Assert.Equal(new ExpertId(0, 0), c.Expert));
        Assert.All(plan.Changes, c => Assert.Contains("600 tokens", c.Reason));
        Assert.Contains("above the threshold 1.20", plan.Reason);
        Assert.Equal(plan.RankLoadAfter.Values.Sum(), plan.RankLoadBefore.Values.Sum(), 6);
    }

    [Fact]
    public void RanksWithEqualTotalsAreStillBalancedLayerByLayer()
    {
        // Each layer's load sits on one rank: the totals are equal, yet every layer waits for one busy rank.
        var input = new BalancerInput
        {
            Load = new Dictionary<ExpertId, double> { [new(0, 0)] = 300, [new(0, 1)] = 300, [new(1, 0)] = 300, [new(1, 1)] = 300 },
            Placement = new Dictionary<ExpertId, IReadOnlyList<int>> { [new(0, 0)] = [0], [new(0, 1)] = [0], [new(1, 0)] = [1], [new(1, 1)] = [1] },
            LiveRanks = [0, 1],
            SlotsPerRank = 3,
            Threshold = 1.1,
        };
        Assert.Equal(1, RankLoads.Imbalance(RankLoads.Of(input.Load, input.Placement.ToDictionary(p => p.Key, p => p.Value.ToArray()), input.LiveRanks)), 9);

        PlacementPlan plan = ExpertBalancer.Plan(input);

        Assert.Equal(2, plan.ImbalanceBefore, 9);
        Assert.Equal(1, plan.ImbalanceAfter, 9);
        // Two moves put one expert of each layer on each rank: no replica needed.
        Assert.Equal(2, plan.Changes.Count);
        Assert.All(plan.Changes, c => Assert.Equal(PlacementChangeKind.Move, c.Kind));
        foreach (int layer in new[] { 0, 1 })
            Assert.Equal([0, 1], plan.Replicas.Where(r => r.Key.Layer == layer).SelectMany(r => r.Value).Order());
    }

    [Fact]
    public void TwoHotExpertsOfALayerSpreadTogetherWhenNeitherHelpsAlone()
    {
        // Experts 0 and 1 carry a layer on ranks 0 and 1 while rank 2 idles. Spreading either over all three ranks alone
        // piles its share onto the other's rank and raises the layer's busiest load; both together balance the layer.
        var input = new BalancerInput
        {
            Load = new Dictionary<ExpertId, double> { [new(0, 0)] = 1000, [new(0, 1)] = 1000, [new(0, 2)] = 50 },
            Placement = new Dictionary<ExpertId, IReadOnlyList<int>> { [new(0, 0)] = [0], [new(0, 1)] = [1], [new(0, 2)] = [2] },
            LiveRanks = [0, 1, 2],
            SlotsPerRank = 3,
            Threshold = 1.1,
        };

        PlacementPlan plan = ExpertBalancer.Plan(input);

        Assert.True(plan.ImbalanceAfter <= 1.1, $"{plan.ImbalanceBefore:F2} -> {plan.ImbalanceAfter:F2}: {plan.Reason}");
        Assert.Contains(plan.Changes, c => c.Expert == new ExpertId(0, 0));
        Assert.Contains(plan.Changes, c => c.Expert == new ExpertId(0, 1));
    }

    [Fact]
    public void ABalancedLoadIsLeftAlone()
    {
        PlacementPlan plan = ExpertBalancer.Plan(Skewed() with { Load = Loads(100, 100, 100, 100, 100, 100) });
        Assert.False(plan.Changed);
        Assert.Equal(1, plan.ImbalanceAfter, 6);
        Assert.Contains("within the threshold", plan.Reason);
    }

    [Fact]
    public void NoLoadMeansNoChange() =>
        Assert.Contains("no expert load", ExpertBalancer.Plan(Skewed() with { Load = new Dictionary<ExpertId, double>() }).Reason);

    [Fact]
    public void TheCapOnChangesIsKept()
    {
        PlacementPlan plan = ExpertBalancer.Plan(Skewed(threshold: 1.0, maxChanges: 1));
        Assert.Single(plan.Changes);
        Assert.True(plan.ImbalanceAfter < plan.ImbalanceBefore);
    }

    [Fact]
    public void WithoutFreeSlotsAnExpertCanStillMove()
    {
        // Three slots per rank for six experts: one spare slot each, so balance comes from moves and at most one replica per rank.
        var input = Skewed(threshold: 1.0, slots: 3) with { Load = Loads(300, 0, 0, 300, 200, 200) };
        PlacementPlan plan = ExpertBalancer.Plan(input);
        Assert.True(plan.ImbalanceAfter < plan.ImbalanceBefore);
        Assert.Contains(plan.Changes, c => c.Kind == PlacementChangeKind.Move);
        Assert.All(CountsPerRank(plan), c => Assert.True(c <= 3));
    }

    [Fact]
    public void AReplicaOnADeadRankIsIgnored()
    {
        var input = Skewed() with { LiveRanks = [0, 1, 2], Placement = Skewed().Placement.ToDictionary(p => p.Key, p => (IReadOnlyList<int>)[.. p.Value, 7]) };
        PlacementPlan plan = ExpertBalancer.Plan(input);
        Assert.DoesNotContain(plan.Replicas.Values, h => h.Contains(7));
    }

    [Fact]
    public void AnExpertWithoutALiveReplicaIsRefused() =>
        Assert.Throws<ArgumentException>(() => ExpertBalancer.Plan(Skewed() with { LiveRanks = [0, 1] }));

    [Fact]
    public void TheSameInputGivesTheSamePlan()
    {
        PlacementPlan a = ExpertBalancer.Plan(Skewed()), b = ExpertBalancer.Plan(Skewed());
        Assert.Equal(a.Changes, b.Changes);
        Assert.Equal(a.Replicas.OrderBy(p => p.Key).Select(p => (p.Key, string.Join(",", p.Value))), b.Replicas.OrderBy(p => p.Key).Select(p => (p.Key, string.Join(",", p.Value))));
    }

    internal static IEnumerable<int> CountsPerRank(PlacementPlan plan) =>
        plan.Replicas.Values.SelectMany(h => h).GroupBy(r => r).Select(g => g.Count());
}
