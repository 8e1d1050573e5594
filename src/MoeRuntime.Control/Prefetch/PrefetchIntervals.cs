namespace MoeRuntime.Control.Prefetch;

/// <summary>
/// Turns the ranks' cumulative per-layer prefetch counters into one interval's stats per layer, summed over the
/// ranks. A rank seen for the first time only sets its baseline; a rank whose counters restarted (new epoch, or a
/// counter that went down) counts everything since its restart; a rank that is gone is forgotten.
/// </summary>
public sealed class PrefetchIntervals
{
    readonly Dictionary<int, (Guid Epoch, PrefetchLayerStats[] Layers)> _last = [];

    /// <summary>Ranks that have a baseline.</summary>
    public IReadOnlyCollection<int> KnownRanks => _last.Keys;

    /// <summary>
    /// One interval's stats for layers <c>0..layers-1</c>, from each reachable rank's cumulative counters.
    /// <paramref name="unreachable"/> ranks keep their baseline without contributing; other ranks not in
    /// <paramref name="ranks"/> are forgotten.
    /// </summary>
    public PrefetchLayerStats[] Advance(IReadOnlyList<RankPrefetchCounters> ranks, int layers, IReadOnlyCollection<int>? unreachable = null)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        ArgumentOutOfRangeException.ThrowIfNegative(layers);
        var sum = new PrefetchLayerStats[layers];
        for (int layer = 0; layer < layers; layer++) sum[layer] = new PrefetchLayerStats(layer, 0, 0, 0, 0, 0);
        foreach (RankPrefetchCounters rank in ranks)
        {
            PrefetchLayerStats[] current = [.. rank.Layers];
            if (_last.TryGetValue(rank.Rank, out var last))
                foreach (PrefetchLayerStats now in current)
                {
                    if ((uint)now.Layer >= (uint)layers) continue;
                    PrefetchLayerStats? before = last.Epoch == rank.Epoch ? last.Layers.FirstOrDefault(l => l.Layer == now.Layer) : null;
                    sum[now.Layer] = Add(sum[now.Layer], Delta(before, now));
                }
            _last[rank.Rank] = (rank.Epoch, current);
        }
        var keep = ranks.Select(r => r.Rank).Concat(unreachable ?? []).ToHashSet();
        foreach (int gone in _last.Keys.Where(r => !keep.Contains(r)).ToArray()) _last.Remove(gone);
        return sum;
    }

    /// <summary>What happened between two readings of one layer; all of <paramref name="now"/> when the counters restarted.</summary>
    public static PrefetchLayerStats Delta(PrefetchLayerStats? before, PrefetchLayerStats now)
    {
        ArgumentNullException.ThrowIfNull(now);
        if (before is null
            || now.Issued < before.Issued || now.UsedBytes < before.UsedBytes || now.WastedBytes < before.WastedBytes
            || now.Failures < before.Failures || now.StallSeconds < before.StallSeconds)
            return now;
        return new PrefetchLayerStats(now.Layer, now.Issued - before.Issued, now.UsedBytes - before.UsedBytes, now.WastedBytes - before.WastedBytes,
            now.Failures - before.Failures, now.StallSeconds - before.StallSeconds);
    }

    static PrefetchLayerStats Add(PrefetchLayerStats a, PrefetchLayerStats b) =>
        new(a.Layer, a.Issued + b.Issued, a.UsedBytes + b.UsedBytes, a.WastedBytes + b.WastedBytes, a.Failures + b.Failures, a.StallSeconds + b.StallSeconds);

    /// <summary>True when the interval saw any prefetch or stall: an idle interval has nothing to judge.</summary>
    public static bool AnyActivity(IEnumerable<PrefetchLayerStats> layers) =>
        layers.Any(l => l.Issued > 0 || l.UsedBytes > 0 || l.WastedBytes > 0 || l.Failures > 0 || l.StallSeconds > 0);
}

/// <summary>One rank's cumulative per-layer prefetch counters; <paramref name="Epoch"/> changes when they restart from zero.</summary>
public sealed record RankPrefetchCounters(int Rank, Guid Epoch, IReadOnlyList<PrefetchLayerStats> Layers);
