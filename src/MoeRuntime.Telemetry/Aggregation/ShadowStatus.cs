namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// A window's shadow evaluation of a candidate checkpoint, summed over the ranks (the <c>moe_shadow_*</c> counters and the
/// two models' scoring-time sketches): mergeable sums, with the ratios computed from them, never averages of the ranks'
/// averages.
/// </summary>
/// <param name="Scored">Sampled requests scored by both models.</param>
/// <param name="Dropped">Sampled requests dropped because a rank's shadow backlog was full.</param>
/// <param name="Failed">Sampled requests whose scoring failed.</param>
/// <param name="Tokens">Completion tokens compared.</param>
/// <param name="GreedyAgreements">Of them, where the candidate's most likely token was the primary's.</param>
/// <param name="LogProbDivergenceSum">Σ |log p_primary − log p_candidate| over those tokens, nats.</param>
/// <param name="RoutingPositions">Positions whose routing was compared (the same at every layer).</param>
/// <param name="RoutingAgreements">Per layer, positions routed to the same top-k set.</param>
/// <param name="PrimarySeconds">The primary's scoring time over the scored requests.</param>
/// <param name="CandidateSeconds">The candidate's scoring time over the same requests.</param>
public sealed record ShadowStatus(long Scored, long Dropped, long Failed, long Tokens, long GreedyAgreements, double LogProbDivergenceSum,
    long RoutingPositions, IReadOnlyList<long> RoutingAgreements, double PrimarySeconds, double CandidateSeconds)
{
    public double GreedyAgreement => Tokens == 0 ? 0 : GreedyAgreements / (double)Tokens;
    /// <summary>Mean |Δ log p| per compared token, nats.</summary>
    public double MeanLogProbDivergence => Tokens == 0 ? 0 : LogProbDivergenceSum / Tokens;
    public IReadOnlyList<double> RoutingAgreementPerLayer => [.. RoutingAgreements.Select(a => RoutingPositions == 0 ? 0 : a / (double)RoutingPositions)];
    /// <summary>The candidate's scoring time over the primary's (1 = as fast).</summary>
    public double LatencyRatio => PrimarySeconds <= 0 ? 0 : CandidateSeconds / PrimarySeconds;
    /// <summary>The candidate's mean scoring time per scored request, seconds.</summary>
    public double CandidateSecondsPerRequest => Scored == 0 ? 0 : CandidateSeconds / Scored;

    /// <summary>
    /// Why the cluster's configured gate (<c>Moe:Shadow:Gate</c>) would refuse the candidate on this window's sums, one line
    /// per bound broken; empty = within the bounds; null when the view was built without a gate.
    /// </summary>
    public IReadOnlyList<string>? Refusals { get; init; }
}
