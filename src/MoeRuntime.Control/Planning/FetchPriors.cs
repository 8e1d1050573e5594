using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>
/// What a miss on the warm and the cold tier is assumed to cost before telemetry has timed one, so that a rank
/// starting all-cold can still rank its experts.
/// </summary>
public sealed record FetchPriors(double WarmSeconds = 0.002, double ColdSeconds = 0.02)
{
    /// <exception cref="ArgumentException">A latency is not positive, or warm is not faster than cold.</exception>
    public void Validate()
    {
        if (!(WarmSeconds > 0)) throw new ArgumentException($"FetchPriors.WarmSeconds must be positive, was {WarmSeconds}", nameof(WarmSeconds));
        if (!(ColdSeconds > WarmSeconds))
            throw new ArgumentException($"FetchPriors.ColdSeconds ({ColdSeconds}) must exceed WarmSeconds ({WarmSeconds}): a disk read costs more than a host copy", nameof(ColdSeconds));
    }

    /// <summary>The typical (median) seconds a miss on <paramref name="tier"/> costs: observed when fetches were timed, else the prior.</summary>
    public double Seconds(Tier tier, TierFetchStats observed) => tier switch
    {
        Tier.Hot => 0,
        _ when observed.Fetches > 0 && observed.P50Seconds > 0 => observed.P50Seconds,
        Tier.Warm => WarmSeconds,
        _ => ColdSeconds,
    };
}
