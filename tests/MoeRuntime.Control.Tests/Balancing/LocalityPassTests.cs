using MoeRuntime.Control.Balancing;

namespace MoeRuntime.Control.Tests.Balancing;

public class LocalityPassTests
{
    /// <summary>
    /// Two layers of six experts dealt round-robin over three ranks; routers on ranks 0 and 1 (rank 2 serves no request).
    /// Router 0 sends most of its rows to experts 1 and 2 of each layer, router 1 to experts 3 and 5: held by other ranks.
    /// </summary>
    static BalancerInput TwoRouters(int localPerLayer = 2, int slots = 8, int maxChanges = 16) => new()
    {
        Load = Enumerable.Range(0, 2).SelectMany(l => Enumerable.Range(0, 6).Select(e => new ExpertId(l, e)))
            .ToDictionary(e => e, e => Demand(0).GetValueOrDefault(e) + Demand(1).GetValueOrDefault(e)),
        Placement = Enumerable.Range(0, 2).SelectMany(l => Enumerable.Range(0, 6).Select(e => new ExpertId(l, e)))
            .ToDictionary(e => e, e => (IReadOnlyList<int>)[e.Expert % 3]),
        LiveRanks = [0, 1, 2],
        SlotsPerRank = slots,
        Threshold = 100,
        MaxChanges = maxChanges,
        RouterDemand = new Dictionary<int, IReadOnlyDictionary<ExpertId, double>> { [0] = Demand(0), [1] = Demand(1) },
        LocalExpertsPerLayer = localPerLayer,
    };

    static Dictionary<ExpertId, double> Demand(int router)
    {
        var demand = new Dictionary<ExpertId, double>();
        for (int layer = 0; layer < 2; layer++)
            for (int expert = 0; expert < 6; expert++)
                demand[new(layer, expert)] = router == 0
                    ? expert switch { 1 => 400, 2 => 300, _ => 10 }
                    : expert switch { 3 => 500, 5 => 200, _ => 10 };
        return demand;
    }

    [Fact]
    public void OnASkewedTwoRouterLoadTheHotExpertsGoToTheirRoutersRanksAndRemoteRowsFall()
    {
        PlacementPlan plan = ExpertBalancer.Plan(TwoRouters());

        for (int layer = 0; layer < 2; layer++)
        {
            Assert.Contains(0, plan.Replicas[new(layer, 1)]);
            Assert.Contains(0, plan.Replicas[new(layer, 2)]);
            Assert.Contains(1, plan.Replicas[new(layer, 3)]);
            Assert.Contains(1, plan.Replicas[new(layer, 5)]);
            // The cold experts stay where they were.
            Assert.Equal([4 % 3], plan.Replicas[new(layer, 4)]);
        }
        // Router 0 held experts 0 and 3 of each layer (20 + 20 rows local), router 1 experts 1 and 4.
        double total = 2 * (400 + 300 + 4 * 10) + 2 * (500 + 200 + 4 * 10);
        Assert.Equal(total - 2 * 20 - 2 * 20, plan.RemoteRowsBefore, 6);
        // Now router 0 also holds 1 and 2, router 1 also 3 and 5: each sends only its two remaining cold experts' rows away.
        Assert.Equal(2 * 2 * 10 + 2 * 2 * 10, plan.RemoteRowsAfter, 6);
        Assert.True(plan.RemoteRowsAfter < 0.1 * plan.RemoteRowsBefore, $"{plan.RemoteRowsBefore} -> {plan.RemoteRowsAfter}");
        Assert.Equal(8, plan.Changes.Count);
        Assert.All(plan.Changes, c => Assert.Equal(PlacementChangeKind.Replicate, c.Kind));
        Assert.All(plan.Changes, c => Assert.Contains("local to the router of rank", c.Reason));
        Assert.Contains("locality: 8 replica(s)", plan.Reason);
    }

    [Fact]
    public void WithLocalityOffThePlanIsTodaysAndRemoteRowsAreOnlyReported()
    {
        PlacementPlan plan = ExpertBalancer.Plan(TwoRouters(localPerLayer: 0));

        Assert.Empty(plan.Changes);
        Assert.Equal(plan.RemoteRowsBefore, plan.RemoteRowsAfter);
        Assert.True(plan.RemoteRowsBefore > 0);
    }

    [Fact]
    public void TheHeaviestPairsComeFirstWhenChangesRunOut()
    {
        PlacementPlan plan = ExpertBalancer.Plan(TwoRouters(maxChanges: 2));

        // 500 rows (router 1, expert 3) at both layers beat every other pair.
        Assert.Equal(2, plan.Changes.Count);
        Assert.All(plan.Changes, c => Assert.Equal((3, 1), (c.Expert.Expert, c.ToRank!.Value)));
    }

    [Fact]
    public void ARankWithoutAFreeSlotGetsNoReplica()
    {
        // 12 experts over 3 ranks: 4 each; 5 slots leaves one free per rank.
        PlacementPlan plan = ExpertBalancer.Plan(TwoRouters(slots: 5));

        Assert.Equal(2, plan.Changes.Count);
        Assert.Contains(plan.Changes, c => c.ToRank == 0 && c.Expert == new ExpertId(0, 1));
        Assert.Contains(plan.Changes, c => c.ToRank == 1 && c.Expert == new ExpertId(0, 3));
        foreach (int rank in new[] { 0, 1, 2 }) Assert.True(plan.Replicas.Values.Count(h => h.Contains(rank)) <= 5);
    }

    [Fact]
    public void OnlyTheConfiguredNumberPerLayerAndRouterIsMadeLocal()
    {
        PlacementPlan plan = ExpertBalancer.Plan(TwoRouters(localPerLayer: 1));

        Assert.Equal(4, plan.Changes.Count);
        Assert.Equal(new[] { (0, 1, 0), (0, 3, 1), (1, 1, 0), (1, 3, 1) },
            plan.Changes.Select(c => (c.Expert.Layer, c.Expert.Expert, c.ToRank!.Value)).Order());
    }

    [Fact]
    public void DemandForAnExpertWithoutPlacementIsNamed()
    {
        BalancerInput input = TwoRouters() with
        {
            RouterDemand = new Dictionary<int, IReadOnlyDictionary<ExpertId, double>> { [0] = new Dictionary<ExpertId, double> { [new(7, 0)] = 1 } },
        };

        var error = Assert.Throws<ArgumentException>(() => ExpertBalancer.Plan(input));
        Assert.Contains("router rank 0 sent rows to expert 7/0", error.Message);
        Assert.Throws<ArgumentException>(() => ExpertBalancer.Plan(TwoRouters(localPerLayer: -1)));
    }
}
