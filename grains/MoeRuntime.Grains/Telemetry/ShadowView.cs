using MoeRuntime.Model.Generation;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>The cluster view's shadow sums as the agreement <see cref="ShadowGate"/> judges.</summary>
public static class ShadowView
{
    /// <summary>
    /// <paramref name="status"/> as one <see cref="ShadowAgreement"/>: the same sums; the largest single-token divergence is
    /// not kept across ranks (no gate bound reads it) and is 0.
    /// </summary>
    public static ShadowAgreement Agreement(ShadowStatus status) =>
        new(status.Tokens, status.GreedyAgreements, status.LogProbDivergenceSum, 0, status.RoutingPositions, [.. status.RoutingAgreements],
            status.PrimarySeconds, status.CandidateSeconds);
}
