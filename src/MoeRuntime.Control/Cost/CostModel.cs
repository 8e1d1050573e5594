using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Cost;

/// <summary>
/// What serving costs, per tier and per fetch, in dollars. Memory is priced per GB-hour held (hot: device memory,
/// warm: host memory, cold: free), a fetch per GB it moves plus the device time that waits on it, and the model's
/// own compute per 1k tokens. A GB is 10^9 bytes.
/// </summary>
public sealed record CostModel
{
    public const double BytesPerGb = 1e9;

    /// <summary>Dollars per GB-hour of hot (device) memory.</summary>
    public double HotDollarsPerGbHour { get; init; } = 0.025;

    /// <summary>Dollars per GB-hour of warm (host) memory.</summary>
    public double WarmDollarsPerGbHour { get; init; } = 0.004;

    /// <summary>Dollars per GB moved by fetches (warm → hot copies, cold reads).</summary>
    public double DollarsPerFetchedGb { get; init; } = 0.001;

    /// <summary>Dollars per second of device time spent waiting on a fetch; it prices a miss's latency.</summary>
    public double DollarsPerStallSecond { get; init; } = 0.0006;

    /// <summary>Dollars per 1k tokens that do not depend on tiers (the compute of the model itself).</summary>
    public double DollarsPerThousandTokens { get; init; }

    /// <exception cref="ArgumentException">A price is negative or not finite; the message names it.</exception>
    public void Validate()
    {
        foreach (var (price, name) in (ReadOnlySpan<(double, string)>)
                 [(HotDollarsPerGbHour, nameof(HotDollarsPerGbHour)), (WarmDollarsPerGbHour, nameof(WarmDollarsPerGbHour)),
                  (DollarsPerFetchedGb, nameof(DollarsPerFetchedGb)), (DollarsPerStallSecond, nameof(DollarsPerStallSecond)),
                  (DollarsPerThousandTokens, nameof(DollarsPerThousandTokens))])
            if (!(price >= 0) || double.IsInfinity(price))
                throw new ArgumentException($"CostModel.{name} must be a finite price of at least 0, was {price}", name);
    }

    /// <summary>Dollars to hold <paramref name="bytes"/> in <paramref name="tier"/> for <paramref name="interval"/>.</summary>
    public double KeepDollars(Tier tier, long bytes, TimeSpan interval) =>
        bytes / BytesPerGb * interval.TotalHours * tier switch
        {
            Tier.Hot => HotDollarsPerGbHour,
            Tier.Warm => WarmDollarsPerGbHour,
            _ => 0,
        };

    /// <summary>Dollars one fetch costs: the bytes it moves and the seconds the device waits for it.</summary>
    public double FetchDollars(double bytes, double seconds) => bytes / BytesPerGb * DollarsPerFetchedGb + seconds * DollarsPerStallSecond;

    /// <summary>What an interval cost: memory held, bytes fetched, and the tokens it served.</summary>
    public CostReport Report(long hotBytes, long warmBytes, TimeSpan interval, double fetchedBytes, long tokens)
    {
        double hours = interval.TotalHours;
        double hotGbHours = hotBytes / BytesPerGb * hours, warmGbHours = warmBytes / BytesPerGb * hours, fetchedGb = fetchedBytes / BytesPerGb;
        return new CostReport(hotGbHours, warmGbHours, fetchedGb, tokens,
            hotGbHours * HotDollarsPerGbHour, warmGbHours * WarmDollarsPerGbHour, fetchedGb * DollarsPerFetchedGb, tokens / 1000.0 * DollarsPerThousandTokens);
    }
}
