using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>
/// What <c>ShardAggregatorGrain</c> does with its ranks' summaries, without Orleans: decode, de-duplicate, merge into
/// the interval's pending snapshot, keep each rank's last minute for its views (<see cref="RankWindows"/>), forward.
/// </summary>
/// <param name="previousRankWindows">
/// Keep each rank's minute in a one-minute <see cref="SlidingWindows"/> of dense sketches instead, as the grain did
/// before <see cref="RankWindows"/>: the reference the shard-hour measurement compares against.
/// </param>
internal sealed class ShardMerge(int shard, TimeSpan interval, bool previousRankWindows = false)
{
    const int Layers = SimulatedRankLoad.Layers, Experts = SimulatedRankLoad.Experts;
    readonly RankTracker _ranks = new(interval, 3);
    readonly Dictionary<string, RankWindows> _rankWindows = new(StringComparer.Ordinal);
    readonly Dictionary<string, SlidingWindows> _previousWindows = new(StringComparer.Ordinal);
    MergedSnapshot _pending = new(Layers, Experts);
    long _sequence;

    public int Ranks => _rankWindows.Count;

    public void Report(byte[] encoded, DateTimeOffset now) => Accept(SummaryCodec.Decode(encoded), now);

    /// <summary>Everything after the decode, for runs that feed already decoded summaries.</summary>
    public void Accept(RankSummary summary, DateTimeOffset now)
    {
        if (!_ranks.Accept(summary, now)) return;
        _pending.Add(summary);
        if (previousRankWindows)
        {
            if (!_previousWindows.TryGetValue(summary.RankId, out SlidingWindows? dense))
                _previousWindows[summary.RankId] = dense = new SlidingWindows(Layers, Experts, TelemetryWindow.OneMinute);
            dense.Add(summary);
            return;
        }
        if (!_rankWindows.TryGetValue(summary.RankId, out RankWindows? windows))
            _rankWindows[summary.RankId] = windows = new RankWindows(Layers, Experts);
        windows.Add(summary);
    }

    /// <summary>The interval's merge, encoded for the cluster aggregator.</summary>
    public byte[] Forward(DateTimeOffset now)
    {
        var gauges = SnapshotSummaries.SumGauges(_ranks.Ranks.Where(r => !_ranks.IsStale(r, now)).SelectMany(r => r.Gauges));
        byte[] encoded = SummaryCodec.Encode(_pending.ToSummary($"shard-{shard}", "bench-moe", ++_sequence, now - interval, now, gauges, 16));
        _pending = new MergedSnapshot(Layers, Experts);
        return encoded;
    }

    /// <summary>Sketch buckets the ranks' windows hold.</summary>
    public long StoredBuckets => _rankWindows.Values.Sum(w => w.StoredBuckets);
}
