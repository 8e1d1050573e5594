using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>One expert to move from one tier to another, and why.</summary>
/// <param name="Value">
/// What the controller reckons the expert is worth per interval, in the controller's own unit (seconds of fetches
/// for the latency controller, dollars for the cost controller). Guardrails compare values per byte within one
/// plan only: a promoted expert must beat the one it displaces by the hysteresis ratio, and releases go lowest value first.
/// </param>
public sealed record TierMove(ExpertKey Expert, Tier From, Tier To, double Value, string Reason)
{
    /// <summary>Moving to a faster tier (cold → warm → hot).</summary>
    public bool IsPromotion => To < From;

    /// <summary>How the move reads in a decision record: <c>model/layer/expert cold→hot</c>.</summary>
    public string Describe() => $"{Expert} {TierNames.Of(From)}→{TierNames.Of(To)}";
}
