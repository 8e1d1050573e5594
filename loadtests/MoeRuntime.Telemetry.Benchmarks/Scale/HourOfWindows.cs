using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>
/// Managed memory a cluster <see cref="SlidingWindows"/> holds after an hour of one-second intervals
/// from every shard, measured with <see cref="GC.GetTotalMemory"/> around filling it.
/// </summary>
internal static class HourOfWindows
{
    public static long MeasureBytes(IReadOnlyList<RankSummary> shardForwards, DateTimeOffset start)
    {
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var windows = new SlidingWindows(SimulatedRankLoad.Layers, SimulatedRankLoad.Experts);
        for (int second = 1; second <= 3600; second++)
            foreach (RankSummary forward in shardForwards)
                windows.Add(EndingAt(forward, start.AddSeconds(second)));
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(windows);
        return after - before;
    }

    /// <summary>The same merge as if sent for another interval: the windows only read its end.</summary>
    static RankSummary EndingAt(RankSummary s, DateTimeOffset end) => new()
    {
        RankId = s.RankId, Model = s.Model, Sequence = s.Sequence, IntervalStart = end.AddSeconds(-1), IntervalEnd = end,
        SampleEveryNTokens = s.SampleEveryNTokens, Counters = s.Counters, Gauges = s.Gauges, Sketches = s.Sketches,
        ExpertHits = s.ExpertHits, ExpertComputeNanoseconds = s.ExpertComputeNanoseconds, LayerComputeNanoseconds = s.LayerComputeNanoseconds,
        TierHits = s.TierHits, TierMisses = s.TierMisses, TierFetchNanoseconds = s.TierFetchNanoseconds, RoutingDigests = s.RoutingDigests,
    };
}
