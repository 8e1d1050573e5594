using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Guardrails;

/// <summary>
/// The checks every controller's plan passes before it reaches a TierSet: pins are respected, a promotion must beat
/// what it displaces by the hysteresis ratio, at most so many moves per interval, and the resulting hot and warm
/// bytes never exceed their budgets. Each move leaves a decision record, admitted or refused with the reason.
/// </summary>
public static class TierGuardrails
{
    /// <summary>Admits what may be written of <paramref name="plan"/> for <paramref name="rank"/>.</summary>
    /// <returns>
    /// The plan whose <see cref="TierPlan.Moves"/> are safe to write (none in a dry run), with the controller's decisions
    /// followed by one decision per move: applied, proposed (dry run) or refused.
    /// </returns>
    public static TierPlan Apply(TierPlan plan, RankState rank, GuardrailOptions options)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(rank);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (plan.Rank != rank.Rank)
            throw new ArgumentException($"the plan is for rank {plan.Rank} but the state is of rank {rank.Rank}", nameof(plan));

        var refused = new List<(PlannedMove Move, string Reason)>();
        List<PlannedMove> screened = Screen(plan, rank, refused);
        List<MoveUnit> units = Contest(screened, rank, options.HysteresisRatio, refused);
        units.Sort(MoveUnit.Compare);
        List<MoveUnit> admitted = Cap(units, options.MaxChangesPerInterval, refused);
        FitBudgets(admitted, rank, refused);

        DecisionOutcome outcome = options.DryRun ? DecisionOutcome.Proposed : DecisionOutcome.Applied;
        var moves = admitted.SelectMany(u => u.Moves).ToList();
        var decisions = plan.Decisions.Select(d => d with { Outcome = outcome }).ToList();
        decisions.AddRange(moves.Select(m => Record(plan, m, outcome, m.Move.Reason)));
        decisions.AddRange(refused.Select(r => Record(plan, r.Move, DecisionOutcome.Refused, $"{r.Reason} (wanted: {r.Move.Move.Reason})")));
        return plan with
        {
            Moves = options.DryRun ? [] : moves.Select(m => m.Move).ToList(),
            Decisions = decisions,
        };
    }

    /// <summary>Drops moves that are not moves, are stale, touch a pinned expert, repeat an expert or carry no usable value.</summary>
    static List<PlannedMove> Screen(TierPlan plan, RankState rank, List<(PlannedMove, string)> refused)
    {
        var experts = rank.Experts.ToDictionary(e => e.Key);
        var moved = new HashSet<ExpertKey>();
        var screened = new List<PlannedMove>();
        foreach (TierMove move in plan.Moves)
        {
            if (!experts.TryGetValue(move.Expert, out ExpertState? expert))
            {
                var unknown = new ExpertState(move.Expert, move.From, 1, 1, 0);
                refused.Add((new PlannedMove(move, unknown), $"expert {move.Expert} is not on rank {rank.Rank}"));
                continue;
            }
            var planned = new PlannedMove(move, expert);
            string? reason =
                expert.Pinned is Tier pin ? $"pinned to {TierNames.Of(pin)} by an operator"
                : move.From == move.To ? "not a move: from and to are the same tier"
                : move.From != expert.Tier ? $"stale: the expert is {TierNames.Of(expert.Tier)} now"
                : !(move.Value >= 0) || double.IsInfinity(move.Value) ? $"value {move.Value} is not a finite number of at least 0"
                : !moved.Add(move.Expert) ? "the plan already moves this expert"
                : null;
            if (reason is null) screened.Add(planned);
            else refused.Add((planned, reason));
        }
        return screened;
    }

    /// <summary>Settles the hot tier, then the warm tier with the hot tier's outcome known, into units of moves.</summary>
    static List<MoveUnit> Contest(List<PlannedMove> moves, RankState rank, double hysteresis, List<(PlannedMove, string)> refused)
    {
        var units = new List<MoveUnit>();
        TierContest.Run(Tier.Hot, Free(rank, Tier.Hot), OverBudget(rank, Tier.Hot), hysteresis, [],
            moves.Where(m => m.Move.To == Tier.Hot).ToList(), moves.Where(m => m.Move.From == Tier.Hot).ToList(), units, refused);

        var inHotUnits = units.SelectMany(u => u.Moves.Select(m => (Move: m, Unit: u))).ToList();
        double warmRoom = Free(rank, Tier.Warm) + inHotUnits.Where(p => p.Move.Move.From == Tier.Warm).Sum(p => p.Move.Expert.WarmBytes);
        var forcedIntoWarm = inHotUnits.Where(p => p.Move.Move.To == Tier.Warm).ToList();
        TierContest.Run(Tier.Warm, warmRoom, OverBudget(rank, Tier.Warm), hysteresis, forcedIntoWarm,
            moves.Where(m => m.Move is { From: Tier.Cold, To: Tier.Warm }).ToList(),
            moves.Where(m => m.Move is { From: Tier.Warm, To: Tier.Cold }).ToList(), units, refused);
        return units;
    }

    static List<MoveUnit> Cap(List<MoveUnit> units, int maxChanges, List<(PlannedMove, string)> refused)
    {
        var admitted = new List<MoveUnit>();
        int changes = 0;
        foreach (MoveUnit unit in units)
        {
            if (changes + unit.Moves.Count <= maxChanges)
            {
                admitted.Add(unit);
                changes += unit.Moves.Count;
            }
            else
            {
                refused.AddRange(unit.Moves.Select(m => (m, $"change cap: at most {maxChanges} moves per interval")));
            }
        }
        return admitted;
    }

    /// <summary>
    /// Drops the last-admitted unit that adds bytes to a tier over its budget until both fit. A tier already over budget
    /// may not grow: its limit is what it holds now, and the plan's releases bring it down.
    /// </summary>
    static void FitBudgets(List<MoveUnit> admitted, RankState rank, List<(PlannedMove, string)> refused)
    {
        bool dropped;
        do
        {
            dropped = false;
            foreach (Tier tier in (Tier[])[Tier.Hot, Tier.Warm])
            {
                long used = rank.BytesUsed(tier), budget = rank.Budget(tier);
                long total = used + admitted.Sum(u => u.NetBytes(tier));
                if (total <= Math.Max(budget, used)) continue;
                MoveUnit victim = admitted.Last(u => u.NetBytes(tier) > 0);
                admitted.Remove(victim);
                refused.AddRange(victim.Moves.Select(m =>
                    (m, $"budget: would put {total} bytes in the {TierNames.Of(tier)} tier, over its budget of {budget}")));
                dropped = true;
                break;
            }
        } while (dropped);
    }

    static double Free(RankState rank, Tier tier) => rank.Budget(tier) - rank.BytesUsed(tier);

    static bool OverBudget(RankState rank, Tier tier) => rank.BytesUsed(tier) > rank.Budget(tier);

    static ControlDecision Record(TierPlan plan, PlannedMove move, DecisionOutcome outcome, string reason) =>
        new(plan.At, plan.Controller, plan.Rank,
            new Dictionary<string, double>
            {
                ["value"] = move.Move.Value,
                ["hot_bytes"] = move.Expert.HotBytes,
                ["warm_bytes"] = move.Expert.WarmBytes,
            },
            move.Move.Describe(), reason, outcome);
}
