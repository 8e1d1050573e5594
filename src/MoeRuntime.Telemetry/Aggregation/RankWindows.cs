using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// One rank's last minute as a shard aggregator keeps it for that rank's views: six ten-second slots, like the
/// fine ring of <see cref="SlidingWindows"/>, but each slot stores its sketches compactly (only the occupied span of
/// buckets, <see cref="CompactSketch"/>) and is reused in place when its ten seconds come round again. Its size is
/// bounded by the series a rank reports and the spread of their values, not by traffic or by how long the rank has
/// been reporting. <see cref="Query"/> gives exactly the snapshot a <see cref="SlidingWindows"/> with a one-minute
/// horizon would give for the same summaries.
/// </summary>
public sealed class RankWindows(int layers, int experts)
{
    const int SlotCount = 6;
    static readonly TimeSpan SlotWidth = TimeSpan.FromSeconds(10);
    readonly Slot?[] _slots = new Slot?[SlotCount];
    readonly long[] _epochs = new long[SlotCount];

    /// <summary>The longest window kept: rank views cover the last minute; longer windows are the cluster's.</summary>
    public static TelemetryWindow Horizon => TelemetryWindow.OneMinute;

    /// <summary>Adds a summary to the slot of the instant it ended; one older than the minute kept (a late delivery) is dropped.</summary>
    /// <exception cref="ArgumentException">The summary's model shape or a sketch's layout differs from this rank's; nothing is added.</exception>
    public void Add(RankSummary summary)
    {
        if (summary.ExpertHits.Rows != layers || summary.ExpertHits.Columns != experts)
            throw new ArgumentException($"summary of {summary.ExpertHits.Rows} layers x {summary.ExpertHits.Columns} experts does not fit a {layers} x {experts} model");
        foreach (var (matrix, cells) in new[]
                 {
                     (summary.ExpertComputeNanoseconds, layers * experts), (summary.LayerComputeNanoseconds, layers),
                     (summary.TierHits, 3 * layers), (summary.TierMisses, 3 * layers), (summary.TierFetchNanoseconds, 3 * layers),
                 })
            if (matrix.Cells.Length != cells) throw new ArgumentException($"matrix of {matrix.Rows} x {matrix.Columns} does not fit {cells} cells");
        SlotFor(summary.IntervalEnd)?.Add(summary);
    }

    /// <summary>Everything in <paramref name="window"/> (20 s or 1 m) up to <paramref name="now"/>, merged.</summary>
    /// <exception cref="ArgumentException">The window is longer than the minute kept.</exception>
    public MergedSnapshot Query(TelemetryWindow window, DateTimeOffset now)
    {
        if (window > Horizon) throw new ArgumentException($"these windows keep at most {TelemetryWindows.Name(Horizon)}, not {TelemetryWindows.Name(window)}");
        int slots = window == TelemetryWindow.TwentySeconds ? 2 : SlotCount;
        var merged = new MergedSnapshot(layers, experts);
        long newest = Epoch(now);
        for (int i = 0; i < SlotCount; i++)
            if (_slots[i] is { } slot && _epochs[i] > newest - slots && _epochs[i] <= newest) slot.AddTo(merged);
        return merged;
    }

    /// <summary>Sketch buckets held over all slots: what this rank's windows cost beyond their fixed matrices.</summary>
    public long StoredBuckets => _slots.Sum(s => s?.StoredBuckets ?? 0);

    static long Epoch(DateTimeOffset at) => at.UtcTicks / SlotWidth.Ticks;

    /// <summary>The slot of <paramref name="at"/>; null when a newer slot has taken its place, so late data never wipes newer data.</summary>
    Slot? SlotFor(DateTimeOffset at)
    {
        long epoch = Epoch(at);
        int index = (int)(epoch % SlotCount);
        Slot? slot = _slots[index];
        if (slot is not null && _epochs[index] > epoch) return null;
        if (slot is null) _slots[index] = slot = new Slot(layers, experts);
        else if (_epochs[index] != epoch) slot.Clear();
        _epochs[index] = epoch;
        return slot;
    }

    sealed class Slot(int layers, int experts)
    {
        readonly Dictionary<string, CounterTotal> _counters = new(StringComparer.Ordinal);
        readonly Dictionary<string, (MetricDefinition Metric, IReadOnlyList<string> Labels, CompactSketch Sketch)> _sketches = new(StringComparer.Ordinal);
        readonly long[] _expertHits = new long[layers * experts], _expertCompute = new long[layers * experts], _layerCompute = new long[layers];
        readonly long[] _tierHits = new long[3 * layers], _tierMisses = new long[3 * layers], _tierFetch = new long[3 * layers];
        long _summaries;

        public long StoredBuckets => _sketches.Values.Sum(s => (long)s.Sketch.StoredBuckets);

        public void Add(RankSummary summary)
        {
            foreach (SketchDelta s in summary.Sketches)
                if (_sketches.TryGetValue(MergedSnapshot.Key(s.Metric, s.Labels), out var kept) && !kept.Sketch.Layout.Equals(s.Sketch.Layout))
                    throw new ArgumentException($"{s.Metric.Name}: a sketch with layout {s.Sketch.Layout} does not merge into {kept.Sketch.Layout}");
            foreach (CounterDelta c in summary.Counters)
            {
                string key = MergedSnapshot.Key(c.Metric, c.Labels);
                if (_counters.TryGetValue(key, out CounterTotal? total)) total.Total += c.Delta;
                else _counters[key] = new CounterTotal(c.Metric, c.Labels) { Total = c.Delta };
            }
            foreach (SketchDelta s in summary.Sketches)
            {
                string key = MergedSnapshot.Key(s.Metric, s.Labels);
                if (!_sketches.TryGetValue(key, out var kept))
                    _sketches[key] = kept = (s.Metric, s.Labels, new CompactSketch(s.Sketch.Layout));
                kept.Sketch.Add(s.Sketch);
            }
            Sum(_expertHits, summary.ExpertHits.Cells);
            Sum(_expertCompute, summary.ExpertComputeNanoseconds.Cells);
            Sum(_layerCompute, summary.LayerComputeNanoseconds.Cells);
            Sum(_tierHits, summary.TierHits.Cells);
            Sum(_tierMisses, summary.TierMisses.Cells);
            Sum(_tierFetch, summary.TierFetchNanoseconds.Cells);
            _summaries++;
        }

        public void AddTo(MergedSnapshot merged)
        {
            foreach (CounterTotal c in _counters.Values) merged.AddCounter(c.Metric, c.Labels, c.Total);
            foreach (var s in _sketches.Values) merged.AddSketch(s.Metric, s.Labels, s.Sketch.ToSketch());
            merged.AddMatrices(_expertHits, _expertCompute, _layerCompute, _tierHits, _tierMisses, _tierFetch, _summaries);
        }

        public void Clear()
        {
            _counters.Clear();
            _sketches.Clear();
            foreach (long[] cells in new[] { _expertHits, _expertCompute, _layerCompute, _tierHits, _tierMisses, _tierFetch }) Array.Clear(cells);
            _summaries = 0;
        }

        static void Sum(long[] cells, ReadOnlySpan<long> delta)
        {
            for (int i = 0; i < cells.Length; i++) cells[i] += delta[i];
        }
    }
}
