namespace MoeRuntime.Control.Planning;

/// <summary>
/// How fetches out of one tier (warm → hot copy, or cold → disk read and check) went during an interval:
/// the time a miss on that tier costs and the bytes it moves.
/// </summary>
/// <param name="Fetches">Fetches observed; zero means the latencies are unknown and controllers fall back on <see cref="FetchPriors"/>.</param>
public sealed record TierFetchStats(long Fetches, double P50Seconds, double P95Seconds, double FetchedBytes)
{
    /// <summary>Nothing fetched from the tier this interval.</summary>
    public static TierFetchStats None { get; } = new(0, 0, 0, 0);

    /// <summary>Mean bytes one fetch moved, or null when nothing was fetched.</summary>
    public double? BytesPerFetch => Fetches > 0 && FetchedBytes > 0 ? FetchedBytes / Fetches : null;
}
