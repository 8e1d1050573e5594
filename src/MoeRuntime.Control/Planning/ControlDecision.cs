namespace MoeRuntime.Control.Planning;

/// <summary>
/// One recorded decision, kept for audit: when, which controller, on which rank, the numbers it looked at,
/// what it changed, why, and whether it was applied, only proposed (dry run) or refused by a guardrail.
/// </summary>
/// <param name="Rank">The rank decided for; null for a cluster-wide decision (prefetch settings).</param>
/// <param name="Inputs">The few named numbers behind the decision (for example <c>p95_itl_s</c>, <c>demand</c>).</param>
public sealed record ControlDecision(
    DateTimeOffset At,
    string Controller,
    int? Rank,
    IReadOnlyDictionary<string, double> Inputs,
    string Change,
    string Reason,
    DecisionOutcome Outcome);
