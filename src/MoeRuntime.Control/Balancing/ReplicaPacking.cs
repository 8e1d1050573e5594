namespace MoeRuntime.Control.Balancing;

/// <summary>
/// EPLB's second step: replicas onto ranks, heaviest first, each onto the least-loaded rank that has a
/// free slot and no replica of that expert yet. In sticky mode a replica stays on a rank that holds the
/// expert today when that keeps the rank under the target load, so a good plan moves fewer weights.
/// </summary>
static class ReplicaPacking
{
    /// <summary>
    /// Places <paramref name="counts"/> replicas. A replica with no eligible rank is left out (its expert keeps
    /// fewer replicas); every expert's first replica always finds a slot while the experts fit the slots at all.
    /// </summary>
    public static Dictionary<ExpertId, int[]> Pack(IReadOnlyDictionary<ExpertId, int> counts, IReadOnlyDictionary<ExpertId, double> load,
        int[] ranks, int slotsPerRank, IReadOnlyDictionary<ExpertId, int[]> current, double? stickyTarget)
    {
        var items = counts
            .SelectMany(c => Enumerable.Repeat((Expert: c.Key, Size: load.GetValueOrDefault(c.Key) / c.Value), c.Value))
            .OrderByDescending(i => i.Size).ThenBy(i => i.Expert)
            .ToList();
        var rankLoad = ranks.ToDictionary(r => r, _ => 0.0);
        var used = ranks.ToDictionary(r => r, _ => 0);
        var placed = counts.Keys.ToDictionary(e => e, _ => new List<int>());
        foreach (var (expert, size) in items)
        {
            int? best = null, home = null;
            foreach (int rank in ranks)
            {
                if (used[rank] >= slotsPerRank || placed[expert].Contains(rank)) continue;
                bool holds = current.TryGetValue(expert, out int[]? holders) && holders.Contains(rank);
                if (best is null || rankLoad[rank] < rankLoad[best.Value] || (rankLoad[rank] == rankLoad[best.Value] && holds && !HoldsNow(current, expert, best.Value)))
                    best = rank;
                if (holds && stickyTarget is { } target && rankLoad[rank] + size <= target && (home is null || rankLoad[rank] < rankLoad[home.Value]))
                    home = rank;
            }
            if ((home ?? best) is not { } chosen) continue;
            placed[expert].Add(chosen);
            rankLoad[chosen] += size;
            used[chosen]++;
        }
        return placed.ToDictionary(p => p.Key, p => p.Value.Order().ToArray());
    }

    static bool HoldsNow(IReadOnlyDictionary<ExpertId, int[]> current, ExpertId expert, int rank) =>
        current.TryGetValue(expert, out int[]? holders) && holders.Contains(rank);
}
