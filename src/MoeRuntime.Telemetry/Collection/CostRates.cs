namespace MoeRuntime.Telemetry.Collection;

/// <summary>Prices behind the cost estimates (seed 001's token cost, seed 000's cost-adaptive routing).</summary>
public sealed record CostRates
{
    /// <summary>$ per 1,000 prompt tokens.</summary>
    public double PromptUsdPer1kTokens { get; init; }

    /// <summary>$ per 1,000 completion tokens.</summary>
    public double CompletionUsdPer1kTokens { get; init; }

    /// <summary>$ per GB-hour of expert weights held hot (device memory).</summary>
    public double HotUsdPerGbHour { get; init; }

    /// <summary>$ per GB-hour held warm (host memory).</summary>
    public double WarmUsdPerGbHour { get; init; }

    /// <summary>$ per GB-hour held cold (disk).</summary>
    public double ColdUsdPerGbHour { get; init; }

    /// <summary>The GB-hour rate of a tier.</summary>
    public double UsdPerGbHour(StorageTier tier) => tier switch
    {
        StorageTier.Hot => HotUsdPerGbHour,
        StorageTier.Warm => WarmUsdPerGbHour,
        _ => ColdUsdPerGbHour,
    };
}
