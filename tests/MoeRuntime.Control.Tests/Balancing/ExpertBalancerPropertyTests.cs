using MoeRuntime.Control.Balancing;

namespace MoeRuntime.Control.Tests.Balancing;

/// <summary>Random clusters, loads and placements (seeded, so a failure replays): the plan's invariants always hold.</summary>
public class ExpertBalancerPropertyTests
{
    [Fact]
    public void PlansKeepTheirInvariantsOnRandomInputs()
    {
        for (int seed = 0; seed < 400; seed++)
        {
            BalancerInput input = RandomInput(new Random(seed));
            PlacementPlan plan = ExpertBalancer.Plan(input);
            string where = $"seed {seed}: {plan.Reason}";

            Assert.True(plan.Replicas.Keys.ToHashSet().SetEquals(input.Placement.Keys), where);
            foreach (var (expert, holders) in plan.Replicas)
            {
                Assert.True(holders.Length >= 1, $"{where}: {expert} has no replica");
                Assert.True(holders.Distinct().Count() == holders.Length, $"{where}: two replicas of {expert} on one rank");
                Assert.All(holders, r => Assert.Contains(r, input.LiveRanks));
            }
            Assert.All(ExpertBalancerTests.CountsPerRank(plan), c => Assert.True(c <= input.SlotsPerRank, $"{where}: {c} replicas on a rank of {input.SlotsPerRank} slots"));
            Assert.True(plan.ImbalanceAfter <= plan.ImbalanceBefore + 1e-9, $"{where}: {plan.ImbalanceBefore} -> {plan.ImbalanceAfter}");
            Assert.True(plan.Changes.Count <= input.MaxChanges, $"{where}: {plan.Changes.Count} changes over a cap of {input.MaxChanges}");

            Assert.Equal(plan.ImbalanceAfter, RankLoads.ByLayer(input.Load, plan.Replicas, [.. input.LiveRanks]).Imbalance, 9);
            // Balance per layer bounds balance of the ranks' totals.
            double totals = RankLoads.Imbalance(RankLoads.Of(input.Load, plan.Replicas, input.LiveRanks));
            Assert.True(totals <= plan.ImbalanceAfter + 1e-9, $"{where}: totals {totals} over per layer {plan.ImbalanceAfter}");
            foreach (PlacementChange change in plan.Changes)
            {
                int[] before = input.Placement[change.Expert].ToArray(), after = plan.Replicas[change.Expert];
                if (change.ToRank is { } to) Assert.True(after.Contains(to) && !before.Contains(to), $"{where}: {change}");
                if (change.FromRank is { } from) Assert.True(before.Contains(from) && !after.Contains(from), $"{where}: {change}");
            }
            Assert.Equal(plan.Changes, ExpertBalancer.Plan(input).Changes);
        }
    }

    [Fact]
    public void SkewedRandomLoadsWithRoomToSpareEndUnderTheThreshold()
    {
        for (int seed = 0; seed < 100; seed++)
        {
            var random = new Random(seed);
            BalancerInput input = RandomInput(random) with { MaxChanges = 100, Threshold = 1.3 };
            int experts = input.Placement.Count, ranks = input.LiveRanks.Count;
            input = input with { SlotsPerRank = experts };
            PlacementPlan plan = ExpertBalancer.Plan(input);
            Assert.True(plan.ImbalanceAfter <= 1.3 || experts < 2 * ranks, $"seed {seed}: {plan.ImbalanceBefore:F2} -> {plan.ImbalanceAfter:F2}, {plan.Reason}");
        }
    }

    static BalancerInput RandomInput(Random random)
    {
        int ranks = random.Next(2, 6), layers = random.Next(1, 4), perLayer = random.Next(2, 9);
        int[] live = Enumerable.Range(0, ranks).Select(r => r * 2 + random.Next(2)).ToArray();
        int experts = layers * perLayer;
        int slots = (experts + ranks - 1) / ranks + random.Next(0, 4);
        var load = new Dictionary<ExpertId, double>();
        var placement = new Dictionary<ExpertId, IReadOnlyList<int>>();
        var used = live.ToDictionary(r => r, _ => 0);
        int index = 0;
        for (int l = 0; l < layers; l++)
            for (int e = 0; e < perLayer; e++, index++)
            {
                var id = new ExpertId(l, e);
                // Zipf-like: a few experts carry most tokens, some carry none.
                load[id] = random.Next(5) == 0 ? 0 : Math.Round(1000 / Math.Pow(1 + random.Next(experts), 1.2));
                int home = live[index % ranks];
                var holders = new List<int> { home };
                used[home]++;
                placement[id] = holders;
            }
        // Some replicas already exist, within the budget.
        foreach (ExpertId id in placement.Keys.ToArray())
        {
            if (random.Next(4) != 0) continue;
            int rank = live[random.Next(ranks)];
            if (placement[id].Contains(rank) || used[rank] >= slots) continue;
            placement[id] = [.. placement[id], rank];
            used[rank]++;
        }
        return new BalancerInput
        {
            Load = load,
            Placement = placement,
            LiveRanks = live,
            SlotsPerRank = slots,
            Threshold = 1 + random.NextDouble() * 0.5,
            MaxChanges = random.Next(0, 20),
        };
    }
}
