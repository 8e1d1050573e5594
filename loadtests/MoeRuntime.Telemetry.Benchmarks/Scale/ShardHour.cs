using System.Diagnostics;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>
/// Shard memory after a simulated hour: every rank reports once a simulated second for 3,600 seconds to its shard
/// (<see cref="ShardMerge"/>, as <c>ShardAggregatorGrain</c>), each shard forwards every second, and the managed memory
/// the shards hold at the end is read with <see cref="GC.GetTotalMemory"/> and divided by the ranks. Summaries come
/// from a pool recorded by <see cref="PoolSize"/> simulated ranks, re-stamped with each rank's id, sequence and
/// interval, so that an hour of a thousand ranks takes minutes rather than recording 3.6 million intervals; the
/// decode is skipped for the same reason (it is timed in the main table).
/// </summary>
internal static class ShardHour
{
    public const int PoolSize = 64;

    public static IReadOnlyList<RankSummary> Pool(DateTimeOffset start)
    {
        var clock = new SteppedClock(start);
        var loads = Enumerable.Range(0, PoolSize).Select(r => new SimulatedRankLoad(10_000 + r, clock)).ToArray();
        clock.Step(TimeSpan.FromSeconds(1));
        return loads.Select(l => SummaryCodec.Decode(l.NextInterval())).ToArray();
    }

    /// <summary>The summary <paramref name="pooled"/> as rank <paramref name="rank"/>'s interval ending at <paramref name="end"/>.</summary>
    public static RankSummary AsRank(RankSummary pooled, int rank, long sequence, DateTimeOffset end) => new()
    {
        RankId = $"rank-{rank}", Model = pooled.Model, Sequence = sequence, IntervalStart = end.AddSeconds(-1), IntervalEnd = end,
        SampleEveryNTokens = pooled.SampleEveryNTokens, Counters = pooled.Counters, Gauges = pooled.Gauges, Sketches = pooled.Sketches,
        ExpertHits = pooled.ExpertHits, ExpertComputeNanoseconds = pooled.ExpertComputeNanoseconds, LayerComputeNanoseconds = pooled.LayerComputeNanoseconds,
        TierHits = pooled.TierHits, TierMisses = pooled.TierMisses, TierFetchNanoseconds = pooled.TierFetchNanoseconds, RoutingDigests = pooled.RoutingDigests,
    };

    public static string Measure(int rankCount, int shardCount, TimeSpan interval, bool previousRankWindows = false)
    {
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        IReadOnlyList<RankSummary> pool = Pool(start);
        long before = GC.GetTotalMemory(forceFullCollection: true);
        var shards = Enumerable.Range(0, shardCount).Select(s => new ShardMerge(s, interval, previousRankWindows)).ToArray();
        var started = Stopwatch.StartNew();
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        for (int second = 1; second <= 3600; second++)
        {
            DateTimeOffset now = start.AddSeconds(second);
            for (int r = 0; r < rankCount; r++)
                shards[r % shardCount].Accept(AsRank(pool[(r + second) % pool.Count], r, second, now), now);
            foreach (ShardMerge shard in shards) shard.Forward(now);
        }
        double seconds = started.Elapsed.TotalSeconds;
        double cpuPerInterval = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / 3600;
        long after = GC.GetTotalMemory(forceFullCollection: true);
        GC.KeepAlive(shards);
        GC.KeepAlive(pool);
        long buckets = shards.Sum(s => s.StoredBuckets);
        return $"| {(previousRankWindows ? "previous: dense SlidingWindows(1m)" : "RankWindows")} | {rankCount:N0} | {shardCount} | {(after - before) / 1e6:N1} | {(after - before) / (double)rankCount / 1e3:N0} | {buckets / (double)rankCount:N0} | {cpuPerInterval:N1} | {seconds:N0} |";
    }
}
