using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>
/// A rank's tier-store counters as read at one moment: cumulative since the store started, so that a controller
/// that misses a read loses nothing; <see cref="RankInterval.Between"/> turns two of them into one interval.
/// </summary>
/// <param name="Hits">Acquisitions that found their expert hot.</param>
/// <param name="WarmFetches">Acquisitions served by a fetch out of the warm tier.</param>
/// <param name="ColdFetches">Acquisitions served by a fetch out of the cold tier (disk).</param>
/// <param name="WarmFetchSeconds">Sum of the waits of the warm fetches.</param>
/// <param name="ColdFetchSeconds">Sum of the waits of the cold fetches.</param>
/// <param name="WarmFetchedBytes">Bytes brought hot out of warm.</param>
/// <param name="ColdFetchedBytes">Bytes brought hot out of cold.</param>
/// <param name="Uses">Acquisitions per registered expert.</param>
/// <param name="TransientHits">Of <paramref name="Hits"/>, those served by a transient copy (an expert hot but not assigned hot).</param>
public sealed record RankCounters(
    long Hits,
    long WarmFetches,
    long ColdFetches,
    double WarmFetchSeconds,
    double ColdFetchSeconds,
    double WarmFetchedBytes,
    double ColdFetchedBytes,
    IReadOnlyDictionary<ExpertKey, long> Uses,
    long TransientHits = 0)
{
    /// <summary>True when a total is below <paramref name="earlier"/>'s: the rank's store restarted in between.</summary>
    public bool WentBackFrom(RankCounters earlier)
    {
        ArgumentNullException.ThrowIfNull(earlier);
        return Hits < earlier.Hits || TransientHits < earlier.TransientHits || WarmFetches < earlier.WarmFetches || ColdFetches < earlier.ColdFetches
            || WarmFetchSeconds < earlier.WarmFetchSeconds || ColdFetchSeconds < earlier.ColdFetchSeconds
            || WarmFetchedBytes < earlier.WarmFetchedBytes || ColdFetchedBytes < earlier.ColdFetchedBytes;
    }
}
