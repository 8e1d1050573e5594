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
}
