namespace MoeRuntime.Control.Cost;

/// <summary>What one interval cost, by part, and per 1k tokens served.</summary>
public sealed record CostReport(
    double HotGbHours,
    double WarmGbHours,
    double FetchedGb,
    long Tokens,
    double HotDollars,
    double WarmDollars,
    double FetchDollars,
    double TokenDollars)
{
    public double TotalDollars => HotDollars + WarmDollars + FetchDollars + TokenDollars;

    /// <summary>
    /// (hot GB-hours × price + warm GB-hours × price + fetched GB × price) / tokens × 1000 + the price per 1k tokens;
    /// null when no token was served.
    /// </summary>
    public double? DollarsPerThousandTokens => Tokens > 0 ? TotalDollars / Tokens * 1000 : null;
}
