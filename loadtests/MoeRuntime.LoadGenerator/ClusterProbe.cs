using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// Reads what the timeline reports from the cluster side: every rank's tier-store counters and hot-tier
/// bytes (TierSet grains), and the controllers' decision log. Counters are cumulative; a sample is the
/// difference between two readings.
/// </summary>
sealed class ClusterProbe(IClusterClient cluster, string model)
{
    long _lastSequence;

    public async Task<ClusterReading> ReadAsync()
    {
        RankInfo[] ranks = await cluster.GetGrain<IClusterGrain>(0).GetRanksAsync();
        long hits = 0, misses = 0, hotAssigned = 0, hotHeld = 0, hotLimit = 0, hotBudget = 0;
        bool overBudget = false;
        foreach (RankInfo rank in ranks.Where(r => r.Model == model))
        {
            TierControlState state = await cluster.GetGrain<ITierSetGrain>($"{model}/{rank.Rank}").GetControlStateAsync();
            hits += state.Store.Hits;
            misses += state.Store.MissesFromWarm + state.Store.MissesFromCold;
            hotAssigned += state.Experts.Where(e => e.Tier == "hot").Sum(e => e.HotBytes);
            hotHeld += state.View.HotBytesUsed;
            // The TierSet's hot budget is the limit the controllers keep; the rank's budget is its ceiling.
            hotLimit += state.View.HotBudgetBytes;
            hotBudget += state.HotCeilingBytes;
            overBudget |= state.Store.HotHighWaterBytes > state.HotCeilingBytes;
        }
        return new ClusterReading(hits, misses, hotAssigned, hotHeld, hotLimit, hotBudget, overBudget, await NewDecisionsAsync());
    }

    /// <summary>Applied decisions since the previous reading, by controller.</summary>
    async Task<IReadOnlyDictionary<string, int>> NewDecisionsAsync()
    {
        ControlDecisionRecord[] newest = await cluster.GetGrain<IControlDecisionLogGrain>(model).GetDecisionsAsync(1000, null);
        var applied = newest.Where(d => d.Sequence > _lastSequence && d.Outcome == "applied")
            .GroupBy(d => d.Controller).ToDictionary(g => g.Key, g => g.Count());
        if (newest.Length > 0) _lastSequence = Math.Max(_lastSequence, newest.Max(d => d.Sequence));
        return applied;
    }
}

/// <summary>
/// Cumulative tier-store counters and current hot bytes summed over the ranks (assigned hot by the TierSets, held hot
/// including copies brought hot only for calls, the limit the controllers keep, the budget), with the decisions applied
/// since the previous reading.
/// </summary>
sealed record ClusterReading(long Hits, long Misses, long HotAssignedBytes, long HotHeldBytes, long HotLimitBytes, long HotBudgetBytes, bool OverBudget,
    IReadOnlyDictionary<string, int> Decisions);
