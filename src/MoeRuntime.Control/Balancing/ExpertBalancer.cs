namespace MoeRuntime.Control.Balancing;

/// <summary>
/// Balances expert load over ranks the way DeepSeek's EPLB does — replicate the experts whose replicas carry
/// the most, then pack replicas heaviest first onto the least-loaded ranks, layer by layer — and turns the result
/// into a short list of replica changes that respects the slot budget and the cap on changes. Balance is judged per
/// layer (<see cref="LayerLoads.Imbalance"/>): a step waits at every layer for that layer's busiest rank. Pure and
/// deterministic: the same input always gives the same plan.
/// </summary>
public static class ExpertBalancer
{
    /// <summary>
    /// The balanced plan, then, when <see cref="BalancerInput.LocalExpertsPerLayer"/> is above 0, the replicas
    /// <see cref="LocalityPass"/> adds on the routers' own ranks with the changes balancing left over.
    /// </summary>
    public static PlacementPlan Plan(BalancerInput input)
    {
        input.Validate();
        PlacementPlan balanced = Balance(input);
        int[] ranks = input.LiveRanks.Order().ToArray();
        var current = LiveReplicas(input.Placement, ranks);
        double remoteBefore = LocalityPass.RemoteRows(input.RouterDemand, current, ranks);
        if (input.LocalExpertsPerLayer <= 0 || input.RouterDemand is null)
            return balanced with { RemoteRowsBefore = remoteBefore, RemoteRowsAfter = LocalityPass.RemoteRows(input.RouterDemand, balanced.Replicas, ranks) };

        var replicas = balanced.Replicas.ToDictionary(r => r.Key, r => r.Value);
        int used = replicas.Sum(r => PlacementSteps.Cost(current[r.Key], r.Value));
        List<LocalityPass.Addition> added = LocalityPass.Add(replicas, input, ranks, input.MaxChanges - used);
        double remoteBalanced = LocalityPass.RemoteRows(input.RouterDemand, balanced.Replicas, ranks);
        double remoteAfter = LocalityPass.RemoteRows(input.RouterDemand, replicas, ranks);
        if (added.Count == 0)
            return balanced with { RemoteRowsBefore = remoteBefore, RemoteRowsAfter = remoteAfter };
        double kept = remoteBalanced - remoteAfter;
        string locality = $"locality: {added.Count} replica(s) of routers' most used experts on their own ranks keep {kept:F0} of {remoteBalanced:F0} remote rows local (remote rows {remoteBefore:F0} -> {remoteAfter:F0})";
        return balanced with
        {
            Replicas = replicas,
            Changes = Describe(current, replicas, input.Load, balanced.RankLoadBefore.ToDictionary(), added),
            RankLoadAfter = RankLoads.Of(input.Load, replicas, ranks),
            ImbalanceAfter = RankLoads.ByLayer(input.Load, replicas, ranks).Imbalance,
            RemoteRowsBefore = remoteBefore,
            RemoteRowsAfter = remoteAfter,
            Reason = $"{balanced.Reason}; {locality}",
        };
    }

    static PlacementPlan Balance(BalancerInput input)
    {
        int[] ranks = input.LiveRanks.Order().ToArray();
        var current = LiveReplicas(input.Placement, ranks);
        Dictionary<int, double> before = RankLoads.Of(input.Load, current, ranks);
        double imbalance = RankLoads.ByLayer(input.Load, current, ranks).Imbalance;

        if (before.Values.Sum() <= 0) return Keep(current, before, imbalance, "no expert load was measured");
        if (imbalance <= input.Threshold)
            return Keep(current, before, imbalance, $"max/mean rank load per layer {imbalance:F2} is within the threshold {input.Threshold:F2}");
        if (input.MaxChanges == 0)
            return Keep(current, before, imbalance, $"max/mean rank load per layer {imbalance:F2} is above {input.Threshold:F2}, but changes are capped at 0");
        ExpertId[] experts = current.Keys.Order().ToArray();
        if (experts.Length > input.SlotsPerRank * ranks.Length)
            return Keep(current, before, imbalance, $"{experts.Length} experts do not fit {ranks.Length} ranks of {input.SlotsPerRank} slots");

        Candidate? best = null;
        int maxTotal = Math.Min(input.SlotsPerRank * ranks.Length, experts.Length * ranks.Length);
        foreach (Dictionary<ExpertId, int> counts in ReplicaCounts.Grow(experts, input.Load, ranks.Length, maxTotal))
            foreach (double? sticky in new double?[] { input.Threshold, null })
            {
                var packed = ReplicaPacking.Pack(counts, input.Load, ranks, input.SlotsPerRank, current, sticky);
                var reached = PlacementSteps.Approach(current, packed, input.Load, ranks, input.SlotsPerRank, input.MaxChanges);
                var candidate = Candidate.Of(reached, current, input, ranks);
                if (best is null || candidate.IsBetterThan(best, input.Threshold)) best = candidate;
            }

        if (best is null || best.Imbalance >= imbalance - 1e-9)
            return Keep(current, before, imbalance, $"max/mean rank load per layer {imbalance:F2} is above {input.Threshold:F2}, but no change within {input.SlotsPerRank} slots per rank and {input.MaxChanges} changes lowers it");
        string outcome = best.Imbalance <= input.Threshold ? "within the threshold" : "the best the slot budget and the cap on changes allow";
        return new PlacementPlan
        {
            Replicas = best.Replicas,
            Changes = Describe(current, best.Replicas, input.Load, before),
            RankLoadBefore = before,
            RankLoadAfter = best.Loads,
            ImbalanceBefore = imbalance,
            ImbalanceAfter = best.Imbalance,
            Reason = $"max/mean rank load per layer {imbalance:F2} is above the threshold {input.Threshold:F2}; {best.Changes} replica changes bring it to {best.Imbalance:F2} ({outcome})",
        };
    }

    static Dictionary<ExpertId, int[]> LiveReplicas(IReadOnlyDictionary<ExpertId, IReadOnlyList<int>> placement, int[] ranks)
    {
        var live = new Dictionary<ExpertId, int[]>();
        foreach (var (expert, holders) in placement)
        {
            int[] onLive = holders.Where(r => ranks.Contains(r)).Distinct().Order().ToArray();
            live[expert] = onLive.Length > 0 ? onLive : throw new ArgumentException($"expert {expert} has no replica on a live rank");
        }
        return live;
    }

    static PlacementPlan Keep(Dictionary<ExpertId, int[]> current, Dictionary<int, double> loads, double imbalance, string reason) => new()
    {
        Replicas = current,
        Changes = [],
        RankLoadBefore = loads,
        RankLoadAfter = loads,
        ImbalanceBefore = imbalance,
        ImbalanceAfter = imbalance,
        Reason = reason,
    };

    /// <summary>The changes per expert, each removal paired with an addition as a move, with the numbers behind it.</summary>
    static List<PlacementChange> Describe(Dictionary<ExpertId, int[]> current, Dictionary<ExpertId, int[]> next, IReadOnlyDictionary<ExpertId, double> load, Dictionary<int, double> before,
        IReadOnlyList<LocalityPass.Addition>? local = null)
    {
        var changes = new List<PlacementChange>();
        foreach (ExpertId expert in next.Keys.Order())
        {
            int[] from = current[expert], to = next[expert];
            int[] removed = from.Except(to).ToArray(), added = to.Except(from).ToArray();
            if (removed.Length == 0 && added.Length == 0) continue;
            double tokens = load.GetValueOrDefault(expert);
            string why = $"{tokens:F0} tokens over {from.Length} replica(s) ({tokens / from.Length:F0} each) become {to.Length} ({tokens / to.Length:F0} each)";
            int moves = Math.Min(removed.Length, added.Length);
            for (int i = 0; i < moves; i++)
                changes.Add(new(PlacementChangeKind.Move, expert, removed[i], added[i], $"{why}; rank {removed[i]} carried {before[removed[i]]:F0}, rank {added[i]} {before[added[i]]:F0}"));
            foreach (int rank in added.Skip(moves))
                changes.Add(new(PlacementChangeKind.Replicate, expert, null, rank,
                    local?.FirstOrDefault(a => a.Expert == expert && a.Rank == rank) is { Rows: > 0 } a
                        ? $"{why}; local to the router of rank {rank}, which sent it {a.Rows:F0} rows"
                        : $"{why}; rank {rank} carried {before[rank]:F0}"));
            foreach (int rank in removed.Skip(moves))
                changes.Add(new(PlacementChangeKind.Drop, expert, rank, null, $"{why}; frees a slot on rank {rank}"));
        }
        return changes;
    }

    sealed record Candidate(Dictionary<ExpertId, int[]> Replicas, Dictionary<int, double> Loads, double Imbalance, int Changes, int TotalReplicas)
    {
        public static Candidate Of(Dictionary<ExpertId, int[]> replicas, Dictionary<ExpertId, int[]> current, BalancerInput input, int[] ranks)
        {
            return new(replicas, RankLoads.Of(input.Load, replicas, ranks), RankLoads.ByLayer(input.Load, replicas, ranks).Imbalance,
                replicas.Sum(r => PlacementSteps.Cost(current[r.Key], r.Value)), replicas.Values.Sum(h => h.Length));
        }

        /// <summary>Within the threshold beats above it; within it, fewer changes and replicas win; above it, lower imbalance wins.</summary>
        public bool IsBetterThan(Candidate other, double threshold)
        {
            bool meets = Imbalance <= threshold, otherMeets = other.Imbalance <= threshold;
            if (meets != otherMeets) return meets;
            const double tolerance = 1e-9;
            if (!meets && Math.Abs(Imbalance - other.Imbalance) > tolerance) return Imbalance < other.Imbalance;
            if (Changes != other.Changes) return Changes < other.Changes;
            if (TotalReplicas != other.TotalReplicas) return TotalReplicas < other.TotalReplicas;
            return Imbalance < other.Imbalance - tolerance;
        }
    }
}
