using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Guardrails;

/// <summary>Why a unit of moves is in the plan; admission prefers lower kinds.</summary>
enum UnitKind
{
    /// <summary>A release out of a tier that is over its budget already.</summary>
    RestoreBudget,

    /// <summary>A promotion, with the releases it needs to make room.</summary>
    Promotion,

    /// <summary>A release nothing needs room for: memory given back.</summary>
    Release,
}

/// <summary>
/// Moves that stand or fall together — a promotion and the experts it displaces — so the change cap and the budget
/// check never admit half a swap.
/// </summary>
sealed class MoveUnit(UnitKind kind, Tier tier, double priority, PlannedMove lead)
{
    public UnitKind Kind { get; } = kind;

    /// <summary>The tier whose contest formed the unit; hot goes before warm within a kind.</summary>
    public Tier Tier { get; } = tier;

    /// <summary>Higher goes first within a kind.</summary>
    public double Priority { get; } = priority;

    public List<PlannedMove> Moves { get; } = [lead];

    public long NetBytes(Tier tier) => Moves.Sum(m => m.NetBytes(tier));

    /// <summary>Admission order: kind, then tier, then priority, then the lead expert for determinism.</summary>
    public static int Compare(MoveUnit a, MoveUnit b)
    {
        int byKind = a.Kind.CompareTo(b.Kind);
        if (byKind != 0) return byKind;
        int byTier = a.Tier.CompareTo(b.Tier);
        if (byTier != 0) return byTier;
        int byPriority = b.Priority.CompareTo(a.Priority);
        return byPriority != 0 ? byPriority : string.CompareOrdinal(a.Moves[0].Move.Expert.ToString(), b.Moves[0].Move.Expert.ToString());
    }
}
