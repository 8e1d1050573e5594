using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>What one rank did between two reads of its <see cref="RankCounters"/>.</summary>
/// <param name="Fresh">
/// No usable earlier read: the first read of the rank, or its counters went backwards (the rank restarted). The interval
/// then counts everything the rank counted since it started, which all happened after the earlier read.
/// </param>
/// <param name="Uses">Acquisitions per expert during the interval.</param>
/// <param name="TransientHits">Of <paramref name="Hits"/>, those served by a transient copy.</param>
public sealed record RankInterval(
    bool Fresh, long Hits, TierFetchStats WarmFetch, TierFetchStats ColdFetch, IReadOnlyDictionary<ExpertKey, long> Uses, long TransientHits = 0)
{
    /// <summary>Acquisitions that found the expert hot, over all acquisitions; null when there were none.</summary>
    public double? HitRatio => Hits + WarmFetch.Fetches + ColdFetch.Fetches is var all and > 0 ? (double)Hits / all : null;

    /// <summary>
    /// The interval from <paramref name="previous"/> (null on the first read) to <paramref name="current"/>. Fetch latency
    /// is known only as a sum, so an interval's fetches are described by their mean wait (used as both p50 and p95).
    /// An expert new since the earlier read, or whose count went backwards, counts all its uses.
    /// </summary>
    public static RankInterval Between(RankCounters? previous, RankCounters current)
    {
        ArgumentNullException.ThrowIfNull(current);
        bool fresh = previous is null || current.WentBackFrom(previous);
        RankCounters before = fresh ? Zero : previous!;
        var uses = new Dictionary<ExpertKey, long>(current.Uses.Count);
        foreach (var (key, now) in current.Uses)
        {
            long earlier = fresh ? 0 : before.Uses.GetValueOrDefault(key);
            uses[key] = now >= earlier ? now - earlier : now;
        }
        return new RankInterval(fresh, current.Hits - before.Hits,
            Fetch(current.WarmFetches - before.WarmFetches, current.WarmFetchSeconds - before.WarmFetchSeconds, current.WarmFetchedBytes - before.WarmFetchedBytes),
            Fetch(current.ColdFetches - before.ColdFetches, current.ColdFetchSeconds - before.ColdFetchSeconds, current.ColdFetchedBytes - before.ColdFetchedBytes),
            uses,
            Math.Max(0, current.TransientHits - before.TransientHits));
    }

    static readonly RankCounters Zero = new(0, 0, 0, 0, 0, 0, 0, new Dictionary<ExpertKey, long>());

    static TierFetchStats Fetch(long fetches, double seconds, double bytes)
    {
        if (fetches <= 0) return TierFetchStats.None with { FetchedBytes = Math.Max(0, bytes) };
        double mean = Math.Max(0, seconds) / fetches;
        return new TierFetchStats(fetches, mean, mean, Math.Max(0, bytes));
    }
}
