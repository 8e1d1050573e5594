namespace MoeRuntime.Control.Planning;

/// <summary>
/// A controller's moves for one rank and interval with the decisions behind them. As a controller returns it, it is a
/// wish; after <see cref="Guardrails.TierGuardrails.Apply"/> its <see cref="Moves"/> are exactly what to write into
/// the rank's next TierSet version (none in a dry run).
/// </summary>
/// <param name="RecommendedSampleRatio">A telemetry sample ratio to switch to, or null to leave sampling as it is.</param>
public sealed record TierPlan(
    string Controller,
    int Rank,
    DateTimeOffset At,
    IReadOnlyList<TierMove> Moves,
    IReadOnlyList<ControlDecision> Decisions,
    double? RecommendedSampleRatio = null);
