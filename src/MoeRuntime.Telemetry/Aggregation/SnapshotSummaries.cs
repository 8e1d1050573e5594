using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// A merged snapshot as a <see cref="RankSummary"/>, so that a shard aggregator forwards its merge to
/// the cluster aggregator through the same bounded, versioned codec ranks use.
/// </summary>
public static class SnapshotSummaries
{
    public static RankSummary ToSummary(this MergedSnapshot snapshot, string sourceId, string model, long sequence,
        DateTimeOffset start, DateTimeOffset end, IReadOnlyList<GaugeValue> gauges, int sampleEveryNTokens) => new()
    {
        RankId = sourceId,
        Model = model,
        Sequence = sequence,
        IntervalStart = start,
        IntervalEnd = end,
        SampleEveryNTokens = sampleEveryNTokens,
        Counters = snapshot.Counters.Where(c => c.Total != 0).Select(c => new CounterDelta(c.Metric, c.Labels, c.Total)).ToList(),
        Gauges = gauges,
        Sketches = snapshot.Sketches.Select(s => new SketchDelta(s.Metric, s.Labels, s.Sketch)).ToList(),
        ExpertHits = new CountMatrix(snapshot.Layers, snapshot.Experts, snapshot.ExpertHits),
        ExpertComputeNanoseconds = new CountMatrix(snapshot.Layers, snapshot.Experts, snapshot.ExpertComputeNanoseconds),
        LayerComputeNanoseconds = new CountMatrix(1, snapshot.Layers, snapshot.LayerComputeNanoseconds),
        TierHits = new CountMatrix(StorageTiers.Count, snapshot.Layers, snapshot.TierHits),
        TierMisses = new CountMatrix(StorageTiers.Count, snapshot.Layers, snapshot.TierMisses),
        TierFetchNanoseconds = new CountMatrix(StorageTiers.Count, snapshot.Layers, snapshot.TierFetchNanoseconds),
        RoutingDigests = [],
    };

    /// <summary>The ranks' latest gauges added up per series (bytes and counts add across ranks).</summary>
    public static List<GaugeValue> SumGauges(IEnumerable<GaugeValue> gauges) =>
        gauges.GroupBy(g => (g.Metric, Labels: string.Join('\u001f', g.Labels)))
            .Select(group => new GaugeValue(group.Key.Metric, group.First().Labels, group.Sum(g => g.Value)))
            .ToList();
}
