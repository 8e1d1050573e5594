namespace MoeRuntime.Control.Balancing;

/// <summary>
/// Locality after balance: a router computes an expert in-process when a replica of it is on the router's own rank,
/// and sends a grain call (rows serialised, a wire round trip) otherwise. So for each live router rank and layer, the
/// experts that router sends the most rows to get a replica on its rank — up to <see cref="BalancerInput.LocalExpertsPerLayer"/>
/// per layer — taken in order of rows saved (the heaviest (router, expert) pair first over all ranks and layers), while
/// the rank has a free slot (<see cref="BalancerInput.SlotsPerRank"/>, or what it holds already if more) and the plan has
/// changes left (<see cref="BalancerInput.MaxChanges"/>, less what balancing used). It only adds replicas: it never
/// moves or drops one balancing chose. Pure and deterministic.
/// </summary>
public static class LocalityPass
{
    /// <summary>One replica locality adds: the router rank that gains it, the expert, and the rows it keeps local.</summary>
    public readonly record struct Addition(int Rank, ExpertId Expert, double Rows);

    /// <summary>
    /// Adds replicas to <paramref name="replicas"/> (changed in place) and returns them in the order taken.
    /// <paramref name="changesLeft"/> caps their number.
    /// </summary>
    public static List<Addition> Add(Dictionary<ExpertId, int[]> replicas, BalancerInput input, int[] ranks, int changesLeft)
    {
        var added = new List<Addition>();
        if (input.LocalExpertsPerLayer <= 0 || input.RouterDemand is null || changesLeft <= 0) return added;
        var used = ranks.ToDictionary(r => r, r => replicas.Values.Count(h => h.Contains(r)));
        var limit = ranks.ToDictionary(r => r, r => Math.Max(input.SlotsPerRank, used[r]));
        var candidates = new List<Addition>();
        foreach (int router in ranks)
        {
            if (!input.RouterDemand.TryGetValue(router, out IReadOnlyDictionary<ExpertId, double>? demand)) continue;
            foreach (var layer in demand.Where(d => d.Value > 0).GroupBy(d => d.Key.Layer))
                foreach (var (expert, rows) in layer.OrderByDescending(d => d.Value).ThenBy(d => d.Key).Take(input.LocalExpertsPerLayer))
                    if (!replicas[expert].Contains(router)) candidates.Add(new(router, expert, rows));
        }
        foreach (Addition candidate in candidates.OrderByDescending(c => c.Rows).ThenBy(c => c.Rank).ThenBy(c => c.Expert))
        {
            if (added.Count >= changesLeft) break;
            if (used[candidate.Rank] >= limit[candidate.Rank]) continue;
            replicas[candidate.Expert] = [.. replicas[candidate.Expert].Append(candidate.Rank).Order()];
            used[candidate.Rank]++;
            added.Add(candidate);
        }
        return added;
    }

    /// <summary>
    /// Rows routers send to another rank under <paramref name="replicas"/>: every (router, expert) pair's rows when the
    /// router's rank holds no replica of the expert. Router ranks that are not live are left out.
    /// </summary>
    public static double RemoteRows(IReadOnlyDictionary<int, IReadOnlyDictionary<ExpertId, double>>? routerDemand,
        IReadOnlyDictionary<ExpertId, int[]> replicas, int[] ranks)
    {
        if (routerDemand is null) return 0;
        double remote = 0;
        foreach (var (router, demand) in routerDemand)
        {
            if (!ranks.Contains(router)) continue;
            foreach (var (expert, rows) in demand)
                if (!(replicas.TryGetValue(expert, out int[]? holders) && holders.Contains(router))) remote += rows;
        }
        return remote;
    }
}
