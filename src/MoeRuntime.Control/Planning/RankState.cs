using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>One rank's experts of one model and the budgets its TierSet must stay within, at the start of an interval.</summary>
public sealed record RankState
{
    public RankState(int rank, TierBudgets budgets, IReadOnlyList<ExpertState> experts)
    {
        ArgumentNullException.ThrowIfNull(budgets);
        ArgumentNullException.ThrowIfNull(experts);
        var seen = new HashSet<ExpertKey>();
        foreach (ExpertState expert in experts)
        {
            if (expert.HotBytes <= 0 || expert.WarmBytes <= 0)
                throw new ArgumentException($"expert {expert.Key} on rank {rank} must take a positive number of bytes in the hot and warm tiers", nameof(experts));
            if (expert.Uses < 0)
                throw new ArgumentException($"expert {expert.Key} on rank {rank} has a negative use count", nameof(experts));
            if (!seen.Add(expert.Key))
                throw new ArgumentException($"expert {expert.Key} appears twice on rank {rank}", nameof(experts));
        }
        Rank = rank;
        Budgets = budgets;
        Experts = experts;
        _hotUsed = experts.Where(e => e.Tier == Tier.Hot).Sum(e => e.HotBytes);
        _warmUsed = experts.Where(e => e.Tier == Tier.Warm).Sum(e => e.WarmBytes);
    }

    readonly long _hotUsed, _warmUsed;

    public int Rank { get; }
    public TierBudgets Budgets { get; }
    public IReadOnlyList<ExpertState> Experts { get; }

    /// <summary>
    /// No expert of the rank was called in the interval: its demand learnt nothing, and decaying it only walks every
    /// expert towards the thresholds at the same pace, so the controllers hold the TierSet.
    /// </summary>
    public bool Idle => Experts.All(e => e.Uses == 0);

    /// <summary>What the rank's transient copies earned in the interval; null when the rank does not count them.</summary>
    public TransientUse? Transient { get; init; }

    /// <summary>Bytes the experts currently assigned to <paramref name="tier"/> take there.</summary>
    public long BytesUsed(Tier tier) => tier switch
    {
        Tier.Hot => _hotUsed,
        Tier.Warm => _warmUsed,
        _ => 0,
    };

    /// <summary>The tier's budget; cold has none (<see cref="long.MaxValue"/>).</summary>
    public long Budget(Tier tier) => tier switch
    {
        Tier.Hot => Budgets.HotBytes,
        Tier.Warm => Budgets.WarmBytes,
        _ => long.MaxValue,
    };
}
