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
