using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>
/// Everything a tier controller reads for one rank and one interval. Time is an input: controllers never read a clock.
/// </summary>
/// <param name="At">When the interval ended; decisions are stamped with it.</param>
/// <param name="Interval">How long the interval was (memory is priced per GB-hour over it).</param>
/// <param name="Rank">The rank's experts, their tiers and uses, and its budgets.</param>
/// <param name="WarmFetch">Fetches out of the warm tier during the interval.</param>
/// <param name="ColdFetch">Fetches out of the cold tier during the interval.</param>
/// <param name="Latency">The serving latencies observed.</param>
/// <param name="Tokens">Tokens (prompt and completion) served in the interval, for $ per 1k tokens.</param>
/// <param name="TelemetrySampleRatio">The share of requests telemetry currently samples.</param>
public sealed record ControlInput(
    DateTimeOffset At,
    TimeSpan Interval,
    RankState Rank,
    TierFetchStats WarmFetch,
    TierFetchStats ColdFetch,
    ObservedLatency Latency,
    long Tokens = 0,
    double TelemetrySampleRatio = 1.0)
{
    /// <summary>The fetch statistics of <paramref name="tier"/>; hot is never fetched.</summary>
    public TierFetchStats Fetch(Tier tier) => tier switch
    {
        Tier.Warm => WarmFetch,
        Tier.Cold => ColdFetch,
        _ => TierFetchStats.None,
    };
}
