namespace MoeRuntime.Control.Canary;

/// <summary>What becomes of a tier controller's plan for one rank.</summary>
public enum PlanRoute
{
    /// <summary>Written on the rank as planned.</summary>
    Write,

    /// <summary>Tried as a canary trial on the rank first (the other live ranks are its control).</summary>
    Trial,
}

/// <summary>
/// The rule that sends a tier controller's large plans to a canary trial: a plan for one rank that moves more than
/// <see cref="CanaryOptions.AutoTrialAbove"/> experts is tried on that rank first, when trials are on and another live
/// rank can be its control. What happens while a trial is under way is the canary grain's answer: the plan is not
/// written and the controller plans again from fresh state the next interval (a plan kept for later would be stale).
/// A plan nothing could judge (<see cref="Unjudgeable"/>) is written directly.
/// </summary>
public static class AutoTrial
{
    /// <param name="moves">Experts the plan moves on the rank.</param>
    /// <param name="liveRanks">Live ranks of the model, the planned one included.</param>
    public static PlanRoute Route(int moves, int liveRanks, CanaryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegative(moves);
        return options.Enabled && options.AutoTrialAbove > 0 && moves > options.AutoTrialAbove && liveRanks >= 2 ? PlanRoute.Trial : PlanRoute.Write;
    }

    /// <summary>
    /// Why a trial of a plan for <paramref name="rank"/> could not be judged, or null when it could: the judge compares the
    /// canary's hit ratio and stall (from its expert calls) with the control ranks', so the rank and at least one other
    /// live rank must have called an expert in their latest interval (a rank
    /// not measured yet counts as having called). A trial that cannot be judged would only hold the
    /// rank and end rolled back as "not measured on both sides"; the plan is written directly instead, as a lone rank's
    /// is (the guardrails have admitted it, and the controllers plan again next interval).
    /// </summary>
    /// <param name="liveRanks">Live ranks of the model, the planned one included.</param>
    /// <param name="idleRanks">Ranks that called no expert in their latest interval (a rank not yet measured is not idle).</param>
    public static string? Unjudgeable(int rank, IReadOnlyCollection<int> liveRanks, IReadOnlySet<int> idleRanks)
    {
        ArgumentNullException.ThrowIfNull(liveRanks);
        ArgumentNullException.ThrowIfNull(idleRanks);
        if (idleRanks.Contains(rank)) return $"rank {rank} called no expert in its last interval";
        return liveRanks.Any(r => r != rank && !idleRanks.Contains(r)) ? null : "no other live rank called an expert in its last interval";
    }
}
