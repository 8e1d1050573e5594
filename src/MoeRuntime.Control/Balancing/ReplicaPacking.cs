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
        // Loads by rank position: this runs once per candidate plan, over every replica and rank.
        var layerLoad = new Dictionary<int, double[]>();
        var rankLoad = new double[ranks.Length];
        var used = new int[ranks.Length];
        var placed = counts.Keys.ToDictionary(e => e, _ => new List<int>());
        foreach (var (expert, size) in items)
        {
            if (!layerLoad.TryGetValue(expert.Layer, out double[]? row)) layerLoad[expert.Layer] = row = new double[ranks.Length];
            int[] holders = current.TryGetValue(expert, out int[]? h) ? h : [];
            List<int> taken = placed[expert];
            int best = -1, home = -1;
            for (int i = 0; i < ranks.Length; i++)
            {
                if (used[i] >= slotsPerRank || taken.Contains(ranks[i])) continue;
                bool holds = holders.Contains(ranks[i]);
                // Least loaded at the layer, then overall; on a tie a rank that already holds the expert (no weights to load).
                if (best < 0 || row[i] < row[best] || (row[i] == row[best]
                    && (rankLoad[i] < rankLoad[best] || (rankLoad[i] == rankLoad[best] && holds && !holders.Contains(ranks[best])))))
                    best = i;
                if (stickyThreshold is not null && holds && row[i] + size <= layerTarget[expert.Layer] && (home < 0 || row[i] < row[home]))
                    home = i;
            }
            int chosen = home >= 0 ? home : best;
            if (chosen < 0) continue;
            taken.Add(ranks[chosen]);
            row[chosen] += size;
            rankLoad[chosen] += size;
            used[chosen]++;
        }
        return placed.ToDictionary(p => p.Key, p => p.Value.Order().ToArray());
    }
}
