using System.Diagnostics;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>
/// <c>--scale</c>: the aggregation hierarchy at 10, 100, 1,000 and 10,000 simulated ranks spread over a fixed
/// number of shards. Each interval every rank records and encodes a summary (not timed: that is the
/// rank's cost), then the shards' merge and the cluster's merge of their forwards are timed apart.
/// Then the shards' memory after a simulated hour at 1,000 ranks (<see cref="ShardHour"/>).
/// </summary>
internal static class ScaleRun
{
    const int Shards = 16, WarmUpIntervals = 3;
    static readonly int[] RankCounts = [10, 100, 1000, 10_000];
    const int HourRanks = 1000, PooledFrom = 1000;
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public static void Run(int intervals, int[] rankCounts)
    {
        if (rankCounts.Length == 0) rankCounts = RankCounts;
        // A discarded pass first, so that the 10-rank row times tiered-up code, not the JIT.
        Measure(RankCounts[1], WarmUpIntervals);
        Console.WriteLine($"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {Shards} shards, {intervals} measured intervals after {WarmUpIntervals} warm-up; median (min–max)");
        Console.WriteLine();
        Console.WriteLine("| ranks | rank summary (bytes) | shard merge, all shards (ms) | process CPU during the shard merges (ms) | slowest shard (ms) | shard forward, per shard (ms) | shard forward (bytes) | cluster merge per interval (ms) | cluster windows after 1 h (MB) |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (int ranks in rankCounts) Console.WriteLine(Measure(ranks, intervals));
        Console.WriteLine();
        Hour(HourRanks);
    }

    public static void Hour(int ranks, bool previousRankWindows = false)
    {
        Console.WriteLine("Shard state after a simulated hour (3,600 one-second intervals per rank):");
        Console.WriteLine();
        Console.WriteLine("| per-rank windows | ranks | shards | shard state, all shards (MB) | per rank (KB) | sketch buckets kept per rank | process CPU per simulated second, all shards (ms) | wall time of the run (s) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine(ShardHour.Measure(ranks, Shards, Interval, previousRankWindows));
    }

    static string Measure(int rankCount, int intervals)
    {
        var clock = new SteppedClock(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        // Beyond PooledFrom ranks, a collector per rank would cost gigabytes: a pool of ranks records and each rank sends
        // a pooled interval re-stamped with its own id, sequence and end (encoded per rank; not timed either way).
        bool pooled = rankCount > PooledFrom;
        var ranks = Enumerable.Range(0, pooled ? ShardHour.PoolSize : rankCount).Select(r => new SimulatedRankLoad(r, clock)).ToArray();
        var shards = Enumerable.Range(0, Shards).Select(s => new ShardMerge(s, Interval)).ToArray();
        var cluster = new ClusterMerge(Interval);
        List<double> rankBytes = [], shardTotal = [], shardCpu = [], shardMax = [], forwardMs = [], forwardBytes = [], clusterMs = [];
        byte[][] forwards = [];

        for (int interval = 0; interval < WarmUpIntervals + intervals; interval++)
        {
            clock.Step(Interval);
            DateTimeOffset now = clock.Now;
            byte[][] summaries = ranks.Select(r => r.NextInterval()).ToArray();
            if (pooled)
            {
                RankSummary[] pool = summaries.Select(s => SummaryCodec.Decode(s)).ToArray();
                summaries = Enumerable.Range(0, rankCount)
                    .Select(r => SummaryCodec.Encode(ShardHour.AsRank(pool[(r + interval) % pool.Length], r, interval + 1, now))).ToArray();
            }

            var perShard = new double[Shards];
            // CPU as well as wall time: on a shared machine the wall time also counts the time other processes had the cores.
            TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
            for (int r = 0; r < rankCount; r++)
            {
                long started = Stopwatch.GetTimestamp();
                shards[r % Shards].Report(summaries[r], now);
                perShard[r % Shards] += Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
            double cpu = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds;
            var forwardTimes = new double[Shards];
            forwards = new byte[Shards][];
            for (int s = 0; s < Shards; s++)
            {
                long started = Stopwatch.GetTimestamp();
                forwards[s] = shards[s].Forward(now);
                forwardTimes[s] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
            long clusterStarted = Stopwatch.GetTimestamp();
            foreach (byte[] forward in forwards) cluster.Report(forward, now);
            double clusterTime = Stopwatch.GetElapsedTime(clusterStarted).TotalMilliseconds;

            if (interval < WarmUpIntervals) continue;
            rankBytes.AddRange(summaries.Select(s => (double)s.Length));
            shardTotal.Add(perShard.Sum());
            shardCpu.Add(cpu);
            shardMax.Add(perShard.Max());
            forwardMs.AddRange(forwardTimes);
            forwardBytes.AddRange(forwards.Select(f => (double)f.Length));
            clusterMs.Add(clusterTime);
        }

        long windowBytes = HourOfWindows.MeasureBytes(forwards.Select(f => SummaryCodec.Decode(f)).ToList(), clock.Now);
        // Collecting the ranks' and shards' state between the two readings would be counted against the windows.
        GC.KeepAlive(ranks);
        GC.KeepAlive(shards);
        GC.KeepAlive(cluster);
        return $"| {rankCount:N0} | {new Spread(rankBytes).Format("N0")} | {new Spread(shardTotal).Format("N1")} | {new Spread(shardCpu).Format("N0")} | {new Spread(shardMax).Format("N2")} " +
               $"| {new Spread(forwardMs).Format("N2")} | {new Spread(forwardBytes).Format("N0")} | {new Spread(clusterMs).Format("N2")} | {windowBytes / 1e6:N1} |";
    }
}
