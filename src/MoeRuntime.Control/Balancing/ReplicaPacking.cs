namespace MoeRuntime.Control.Balancing;

/// <summary>
/// EPLB's second step: replicas onto ranks, heaviest first, each onto the rank least loaded at the replica's layer
/// (then least loaded overall) that has a free slot and no replica of that expert yet. Balancing each layer, not the
/// ranks' totals, is what shortens a step: every layer waits for its busiest rank. In sticky mode a replica stays on a
/// rank that holds the expert today when that keeps the rank under the layer's target load, so a good plan moves
/// fewer weights.
/// </summary>
static class ReplicaPacking
{
    /// <summary>
    /// Places <paramref name="counts"/> replicas. A replica with no eligible rank is left out (its expert keeps
    /// fewer replicas); every expert's first replica always finds a slot while the experts fit the slots at all.
    /// <paramref name="stickyThreshold"/> × a layer's mean rank load is the load a sticky replica may bring its rank to.
    /// </summary>
    public static Dictionary<ExpertId, int[]> Pack(IReadOnlyDictionary<ExpertId, int> counts, IReadOnlyDictionary<ExpertId, double> load,
        int[] ranks, int slotsPerRank, IReadOnlyDictionary<ExpertId, int[]> current, double? stickyThreshold)
    {
        var items = counts
            .SelectMany(c => Enumerable.Repeat((Expert: c.Key, Size: load.GetValueOrDefault(c.Key) / c.Value), c.Value))
            .OrderByDescending(i => i.Size).ThenBy(i => i.Expert)
            .ToList();
        var layerTarget = counts.Keys.GroupBy(e => e.Layer)
            .ToDictionary(g => g.Key, g => (stickyThreshold ?? 0) * g.Sum(e => load.GetValueOrDefault(e)) / ranks.Length);
        var layerLoad = new LayerLoads(ranks);
        var rankLoad = ranks.ToDictionary(r => r, _ => 0.0);
        var used = ranks.ToDictionary(r => r, _ => 0);
        var placed = counts.Keys.ToDictionary(e => e, _ => new List<int>());
        foreach (var (expert, size) in items)
        {
            int layer = expert.Layer;
            // Least loaded at the layer, then overall; on a tie a rank that already holds the expert (no weights to load).
            bool Lighter(int rank, int than) =>
                layerLoad[layer, rank] != layerLoad[layer, than] ? layerLoad[layer, rank] < layerLoad[layer, than]
                : rankLoad[rank] != rankLoad[than] ? rankLoad[rank] < rankLoad[than]
                : HoldsNow(current, expert, rank) && !HoldsNow(current, expert, than);
            int? best = null, home = null;
            foreach (int rank in ranks)
            {
                if (used[rank] >= slotsPerRank || placed[expert].Contains(rank)) continue;
                if (best is null || Lighter(rank, best.Value)) best = rank;
                if (stickyThreshold is not null && HoldsNow(current, expert, rank) && layerLoad[layer, rank] + size <= layerTarget[layer]
                    && (home is null || layerLoad[layer, rank] < layerLoad[layer, home.Value]))
                    home = rank;
            }
            if ((home ?? best) is not { } chosen) continue;
            placed[expert].Add(chosen);
            layerLoad.Add(layer, chosen, size);
            rankLoad[chosen] += size;
            used[chosen]++;
        }
        return placed.ToDictionary(p => p.Key, p => p.Value.Order().ToArray());
    }

    static bool HoldsNow(IReadOnlyDictionary<ExpertId, int[]> current, ExpertId expert, int rank) =>
        current.TryGetValue(expert, out int[]? holders) && holders.Contains(rank);
}
