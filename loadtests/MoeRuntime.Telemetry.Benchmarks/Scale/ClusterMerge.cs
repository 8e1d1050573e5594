using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>What <c>ClusterAggregatorGrain</c> does with a shard's forward, without Orleans: decode, de-duplicate, add to the windows.</summary>
internal sealed class ClusterMerge(TimeSpan interval)
{
    readonly RankTracker _shards = new(interval, 3);

    public SlidingWindows Windows { get; } = new(SimulatedRankLoad.Layers, SimulatedRankLoad.Experts);

    public void Report(byte[] encoded, DateTimeOffset now)
    {
        RankSummary delta = SummaryCodec.Decode(encoded);
        if (_shards.Accept(delta, now)) Windows.Add(delta);
    }
}
