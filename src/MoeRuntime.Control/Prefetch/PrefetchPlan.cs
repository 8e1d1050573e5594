using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Prefetch;

/// <summary>The prefetch settings for the next interval, why, and the decision record behind them.</summary>
public sealed record PrefetchPlan(PrefetchSettings Settings, string Reason, ControlDecision Decision);
