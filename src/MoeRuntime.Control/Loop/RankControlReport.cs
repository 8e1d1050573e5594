namespace MoeRuntime.Control.Loop;

/// <summary>One rank after its last interval, as the controllers' status shows it.</summary>
/// <param name="TierSetVersion">The TierSet version after the interval's writes.</param>
/// <param name="HotAllowanceBytes">The hot bytes the latency controller lets the rank use; null before its first interval.</param>
/// <param name="HotBudgetBytes">The rank's hot ceiling (configured or set by an operator).</param>
/// <param name="HotLimitBytes">The hot bytes the rank's store may hold now.</param>
/// <param name="HitRatio">Hits over acquisitions during the interval; null when there was none.</param>
public sealed record RankControlReport(
    int Rank,
    long TierSetVersion,
    long? HotAllowanceBytes,
    long HotAssignedBytes,
    long HotBudgetBytes,
    long HotLimitBytes,
    long WarmAssignedBytes,
    long WarmBudgetBytes,
    double? HitRatio,
    double IntervalDollars,
    double? DollarsPerThousandTokens);
