using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Loop;

namespace MoeRuntime.Control.Canary;

/// <summary>
/// One rank's cost per 1000 tokens over a canary interval from its own counters: the cost controller's prices × the
/// rank's hot and warm memory held over the interval and the bytes it fetched from warm and cold, over the tokens the
/// rank served in it (its own telemetry's token rate × the interval). The same <see cref="CostModel"/> the cost
/// controller reports with, so the canary judges the figure the controller optimises.
/// </summary>
public static class CanaryCost
{
    /// <param name="tokensPerSecond">The rank's prompt and completion tokens per second (its own view); none when unknown.</param>
    /// <returns>Null when the rank served no token (a rank whose router serves no request), or its counters went backwards.</returns>
    public static double? DollarsPerThousandTokens(CostModel prices, long hotBytes, long warmBytes, TimeSpan interval, RankCounters before, RankCounters after, double? tokensPerSecond)
    {
        ArgumentNullException.ThrowIfNull(prices);
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        if (interval <= TimeSpan.Zero || tokensPerSecond is not (> 0 and var rate) || !double.IsFinite(rate) || after.WentBackFrom(before)) return null;
        double fetched = after.WarmFetchedBytes - before.WarmFetchedBytes + after.ColdFetchedBytes - before.ColdFetchedBytes;
        long tokens = (long)Math.Round(rate * interval.TotalSeconds);
        return prices.Report(Math.Max(0, hotBytes), Math.Max(0, warmBytes), interval, Math.Max(0, fetched), tokens).DollarsPerThousandTokens;
    }
}
