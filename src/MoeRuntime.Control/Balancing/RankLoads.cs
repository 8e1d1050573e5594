namespace MoeRuntime.Control.Balancing;

/// <summary>
/// Load per rank under a replica map. The router splits an expert's tokens evenly over its replicas, so
/// each replica carries the expert's load over its replica count.
/// </summary>
public static class RankLoads
{
    /// <summary>Each rank's load summed over layers.</summary>
    public static Dictionary<int, double> Of(IReadOnlyDictionary<ExpertId, double> load, IEnumerable<KeyValuePair<ExpertId, int[]>> replicas, IEnumerable<int> ranks)
    {
        var loads = ranks.ToDictionary(r => r, _ => 0.0);
        foreach (var (_, rank, share) in Shares(load, replicas)) loads[rank] += share;
        return loads;
    }

    /// <summary>Each rank's load at each layer: the router dispatches a step layer by layer, and each layer waits for its busiest rank.</summary>
    public static LayerLoads ByLayer(IReadOnlyDictionary<ExpertId, double> load, IEnumerable<KeyValuePair<ExpertId, int[]>> replicas, int[] ranks)
    {
        var loads = new LayerLoads(ranks);
        foreach (var (expert, rank, share) in Shares(load, replicas)) loads.Add(expert.Layer, rank, share);
        return loads;
    }

    /// <summary>Each replica with the share of its expert's load it carries.</summary>
    static IEnumerable<(ExpertId Expert, int Rank, double Share)> Shares(IReadOnlyDictionary<ExpertId, double> load, IEnumerable<KeyValuePair<ExpertId, int[]>> replicas)
    {
        foreach (var (expert, holders) in replicas)
            foreach (int rank in holders)
                yield return (expert, rank, load.GetValueOrDefault(expert) / holders.Length);
    }

    /// <summary>Busiest rank over the mean rank; 1 when there is no load at all.</summary>
    public static double Imbalance(IReadOnlyDictionary<int, double> loads)
    {
        double mean = loads.Count == 0 ? 0 : loads.Values.Sum() / loads.Count;
        return mean <= 0 ? 1 : loads.Values.Max() / mean;
    }
}
