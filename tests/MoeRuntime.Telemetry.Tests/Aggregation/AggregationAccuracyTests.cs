using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

/// <summary>
/// The requirement's accuracy test: known latencies recorded on eight ranks, shipped as several
/// summaries each, merged by two shards and then by the cluster, as the aggregator grains do.
/// </summary>
public class AggregationAccuracyTests
{
    const int Ranks = 8, Shards = 2, SummariesPerRank = 5;

    public static TheoryData<string> Loads => ["lognormal", "bimodal"];

    [Theory]
    [MemberData(nameof(Loads))]
    public void ClusterQuantilesAreWithinOnePercentOfTheExactOnes(string load)
    {
        double[] values = Generate(load, 200_000, new Random(42));

        MergedSnapshot cluster = MergeThroughShards(values);

        RelativeErrorSketch merged = cluster.Distribution(MoeMetrics.RequestDurationSeconds)!;
        Assert.Equal(values.Length, merged.Count);
        Array.Sort(values);
        foreach (double q in new[] { 0.5, 0.95, 0.99 })
        {
            double exact = values[(int)Math.Floor(q * (values.Length - 1))];
            double error = Math.Abs(merged.Quantile(q) - exact) / exact;
            Assert.True(error <= 0.01, $"{load} p{q * 100}: aggregated {merged.Quantile(q)} vs exact {exact} ({error:P3})");
        }
    }

    /// <summary>Rank i records every eighth value, in several intervals; shard = rank mod 2; the cluster merges the shards' forwards.</summary>
    static MergedSnapshot MergeThroughShards(double[] values)
    {
        var ranks = Enumerable.Range(0, Ranks).Select(i => new SimulatedRank($"rank-{i}")).ToArray();
        var handles = ranks.Select(r => r.Collector.Histogram(MoeMetrics.RequestDurationSeconds, "stream")).ToArray();
        var shards = Enumerable.Range(0, Shards).Select(_ => new MergedSnapshot(SimulatedRank.Layers, SimulatedRank.Experts)).ToArray();
        var shardTrackers = Enumerable.Range(0, Shards).Select(_ => new RankTracker(TimeSpan.FromSeconds(1), 3)).ToArray();

        int perInterval = values.Length / Ranks / SummariesPerRank;
        for (int interval = 0; interval < SummariesPerRank; interval++)
        {
            for (int r = 0; r < Ranks; r++)
            {
                for (int k = 0; k < perInterval; k++) handles[r].Record(values[(interval * perInterval + k) * Ranks + r]);
                RankSummary summary = ranks[r].Report(TimeSpan.FromSeconds(1));
                Assert.True(shardTrackers[r % Shards].Accept(summary, summary.IntervalEnd));
                shards[r % Shards].Add(summary);
            }
        }

        var cluster = new MergedSnapshot(SimulatedRank.Layers, SimulatedRank.Experts);
        for (int s = 0; s < Shards; s++)
        {
            RankSummary forwarded = shards[s].ToSummary($"shard-{s}", "tiny-moe", 1, SimulatedRank.Start,
                SimulatedRank.Start.AddSeconds(SummariesPerRank), [], 16);
            cluster.Add(SimulatedRank.Ship(forwarded));
        }
        Assert.Equal(Shards, cluster.Summaries);
        return cluster;
    }

    static double[] Generate(string load, int count, Random random) => load switch
    {
        // Request latencies around 300 ms with a long tail.
        "lognormal" => Enumerable.Range(0, count).Select(_ => Math.Exp(Math.Log(0.3) + 0.8 * Normal(random))).ToArray(),
        // Cache-hit fast path near 80 ms and a slow path near 1.5 s: quantiles sit on either mode.
        "bimodal" => Enumerable.Range(0, count)
            .Select(_ => random.NextDouble() < 0.7 ? Math.Max(1e-4, 0.08 + 0.01 * Normal(random)) : Math.Max(1e-4, 1.5 + 0.2 * Normal(random)))
            .ToArray(),
        _ => throw new ArgumentException(load),
    };

    static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
