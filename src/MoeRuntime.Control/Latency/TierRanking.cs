using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Latency;

/// <summary>
/// The tier every expert should sit in. Every expert of a rank pays the same latency for a miss on a given tier, so the
/// time its misses cost is its demand × that latency, and the assignment that costs least fills hot with the experts
/// of highest demand per hot byte, then warm with the next by demand per warm byte; the rest are cold.
/// Pinned experts stay where they are and their bytes count against the budgets. With the transient-yield rule an
/// expert whose demand per hot byte does not beat what a hot byte of transient copies earns is not assigned hot.
/// </summary>
static class TierRanking
{

    /// <param name="hotFloorPerByte">
    /// Demand per hot byte an expert must exceed to be assigned hot (what a hot byte of transient copies earns); 0 for none.
    /// </param>
    /// <param name="admits">
    /// Whether an expert may be promoted into a tier (the cost controller's break-even, <see cref="Planning.IPromotionFloor"/>);
    /// asked only for experts now in a slower tier; null admits every promotion.
    /// </param>
    public static Dictionary<ExpertKey, Tier> Assign(
        IReadOnlyList<ExpertState> experts, DemandTracker demand, long hotAllowance, long warmBudget, double minDemand, double hotFloorPerByte = 0,
        Func<ExpertState, Tier, bool>? admits = null)
    {
        bool Admits(ExpertState e, Tier to) => e.Tier <= to || admits is null || admits(e, to);
        var target = new Dictionary<ExpertKey, Tier>(experts.Count);
        long hotFree = hotAllowance, warmFree = warmBudget;
        foreach (ExpertState pinned in experts.Where(e => e.Pinned is not null))
        {
            target[pinned.Key] = pinned.Tier;
            hotFree -= pinned.Tier == Tier.Hot ? pinned.HotBytes : 0;
            warmFree -= pinned.Tier == Tier.Warm ? pinned.WarmBytes : 0;
        }

        var wanted = experts.Where(e => e.Pinned is null && demand.Of(e.Key) > 0 && demand.Of(e.Key) >= minDemand).ToList();
        foreach (ExpertState expert in Ranked(wanted, demand, Tier.Hot))
            if (expert.HotBytes <= hotFree && demand.Of(expert.Key) / expert.HotBytes > hotFloorPerByte && Admits(expert, Tier.Hot))
            {
                target[expert.Key] = Tier.Hot;
                hotFree -= expert.HotBytes;
            }
        foreach (ExpertState expert in Ranked(wanted.Where(e => !target.ContainsKey(e.Key)), demand, Tier.Warm))
            if (expert.WarmBytes <= warmFree && Admits(expert, Tier.Warm))
            {
                target[expert.Key] = Tier.Warm;
                warmFree -= expert.WarmBytes;
            }
        foreach (ExpertState expert in experts)
            target.TryAdd(expert.Key, Tier.Cold);
        return target;
    }

    /// <summary>Highest demand per byte of <paramref name="tier"/> first; on a tie the expert already in the faster tier, then by key.</summary>
    static IEnumerable<ExpertState> Ranked(IEnumerable<ExpertState> experts, DemandTracker demand, Tier tier) =>
        experts.OrderByDescending(e => demand.Of(e.Key) / e.Bytes(tier))
            .ThenBy(e => e.Tier)
            .ThenBy(e => e.Key.Layer).ThenBy(e => e.Key.Expert).ThenBy(e => e.Key.Model, StringComparer.Ordinal);
}
