using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>Builds the <see cref="RankState"/> controllers plan from, and carries it past the moves one controller wrote.</summary>
public static class RankStates
{
    /// <summary>
    /// The rank as controllers see it for one interval. The hot budget they plan against is the TierSet's less room for
    /// <paramref name="transientHeadroomExperts"/> copies of the rank's largest expert: an expert not assigned hot is
    /// brought hot for the length of a call, and a hot tier fully assigned would leave such a call no room at all.
    /// </summary>
    /// <param name="pins">Operator pins of the model; those of experts on this rank become <see cref="ExpertState.Pinned"/>.</param>
    public static RankState Build(
        int rank, TierBudgets budgets, IReadOnlyList<ExpertHolding> experts, RankInterval interval,
        IReadOnlyDictionary<ExpertKey, Tier> pins, int transientHeadroomExperts)
    {
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentNullException.ThrowIfNull(experts);
        ArgumentNullException.ThrowIfNull(interval);
        ArgumentNullException.ThrowIfNull(pins);
        ArgumentOutOfRangeException.ThrowIfNegative(transientHeadroomExperts);
        long largest = experts.Count == 0 ? 0 : experts.Max(e => e.HotBytes);
        long hot = Math.Max(0, budgets.HotBytes - transientHeadroomExperts * largest);
        var states = experts
            .Select(e => new ExpertState(e.Key, e.Assigned, e.HotBytes, e.WarmBytes, interval.Uses.GetValueOrDefault(e.Key),
                pins.TryGetValue(e.Key, out Tier pin) ? pin : null))
            .ToList();
        return new RankState(rank, new TierBudgets(hot, budgets.WarmBytes), states);
    }

    /// <summary>
    /// The hot budget the rank's store should enforce once the latency controller has planned: its hot allowance (or the
    /// bytes assigned hot, if pins hold more) plus the room <see cref="Build"/> kept for transient copies, never over
    /// <paramref name="ceiling"/>. The store releases hot copies over it, so memory the controller gives back is freed,
    /// not just unassigned. It rises at once, but falls by at most <paramref name="maxRelease"/> per interval: the copies
    /// it releases still catch calls, and one interval's margin is no reason to drop them all.
    /// </summary>
    /// <param name="after">The rank after the controller's moves; its hot budget is <paramref name="ceiling"/> less the headroom.</param>
    /// <param name="allowance">The controller's hot allowance; null before its first interval (the limit is then the ceiling).</param>
    /// <param name="current">The limit in force.</param>
    public static long HotLimit(RankState after, long? allowance, long ceiling, long current, long maxRelease)
    {
        ArgumentNullException.ThrowIfNull(after);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRelease);
        // With no expert registered there is nothing to size the limit by, and a limit under one expert would refuse its first call.
        if (after.Experts.Count == 0) return Math.Min(ceiling, current);
        // Room for one call's copy even when no headroom is configured: a store with no room cannot serve a miss at all.
        long room = Math.Max(ceiling - after.Budgets.HotBytes, after.Experts.Max(e => e.HotBytes));
        long wanted = Math.Min(ceiling, Math.Max(allowance ?? after.Budgets.HotBytes, after.BytesUsed(Tier.Hot)) + room);
        return Math.Max(wanted, Math.Min(ceiling, current) - maxRelease);
    }

    /// <summary>
    /// What the rank's transient copies earned over <paramref name="interval"/>: its hits on them, and the hot bytes they had
    /// — the hot limit in force less the bytes the TierSet assigns hot (as read at the interval's end, the best figure kept).
    /// </summary>
    public static TransientUse Transient(RankReading read, RankInterval interval)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(interval);
        long assigned = read.Experts.Where(e => e.Assigned == Tier.Hot).Sum(e => e.HotBytes);
        return new TransientUse(interval.TransientHits, Math.Max(0, read.HotLimitBytes - assigned));
    }

    /// <summary>The state once <paramref name="moves"/> are written: what the next controller of the same interval plans from.</summary>
    public static RankState After(RankState state, IReadOnlyList<TierMove> moves)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(moves);
        var to = moves.ToDictionary(m => m.Expert, m => m.To);
        return new RankState(state.Rank, state.Budgets,
            state.Experts.Select(e => to.TryGetValue(e.Key, out Tier tier) ? e with { Tier = tier } : e).ToList())
        {
            Transient = state.Transient,
        };
    }
}
