using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// Summaries of one or many ranks and intervals added together: counter totals, merged sketches and
/// summed matrices. Adding is exact (sketches merge by adding buckets), so the order in which ranks,
/// shards and intervals are merged does not change the result. Gauges are per rank; see <see cref="RankTracker"/>.
/// </summary>
public sealed class MergedSnapshot
{
    readonly Dictionary<string, CounterTotal> _counters = new(StringComparer.Ordinal);
    readonly Dictionary<string, SketchTotal> _sketches = new(StringComparer.Ordinal);

    public MergedSnapshot(int layers, int experts)
    {
        Layers = layers;
        Experts = experts;
        ExpertHits = new long[layers * experts];
        ExpertComputeNanoseconds = new long[layers * experts];
        LayerComputeNanoseconds = new long[layers];
        TierHits = new long[3 * layers];
        TierMisses = new long[3 * layers];
        TierFetchNanoseconds = new long[3 * layers];
    }

    public int Layers { get; }
    public int Experts { get; }
    /// <summary>Summaries added (ranks × intervals).</summary>
    public long Summaries { get; private set; }
    public IEnumerable<CounterTotal> Counters => _counters.Values;
    public IEnumerable<SketchTotal> Sketches => _sketches.Values;
    /// <summary>Layer-major [layer * experts + expert].</summary>
    public long[] ExpertHits { get; }
    public long[] ExpertComputeNanoseconds { get; }
    public long[] LayerComputeNanoseconds { get; }
    /// <summary>Tier-major [tier * layers + layer], tiers hot, warm, cold.</summary>
    public long[] TierHits { get; }
    public long[] TierMisses { get; }
    public long[] TierFetchNanoseconds { get; }

    /// <summary>
    /// Adds one rank's interval. Throws <see cref="ArgumentException"/>, having added nothing, if its
    /// model shape or a sketch's layout differs from this snapshot's.
    /// </summary>
    public void Add(RankSummary summary)
    {
        CheckFits(summary);
        foreach (CounterDelta c in summary.Counters) AddCounter(c.Metric, c.Labels, c.Delta);
        foreach (SketchDelta s in summary.Sketches) AddSketch(s.Metric, s.Labels, s.Sketch);
        AddCells(ExpertHits, summary.ExpertHits.Cells);
        AddCells(ExpertComputeNanoseconds, summary.ExpertComputeNanoseconds.Cells);
        AddCells(LayerComputeNanoseconds, summary.LayerComputeNanoseconds.Cells);
        AddCells(TierHits, summary.TierHits.Cells);
        AddCells(TierMisses, summary.TierMisses.Cells);
        AddCells(TierFetchNanoseconds, summary.TierFetchNanoseconds.Cells);
        Summaries++;
    }

    /// <summary>Checks everything that can refuse a summary before any of it is added, so a refused summary leaves no half-merge behind.</summary>
    void CheckFits(RankSummary summary)
    {
        if (summary.ExpertHits.Rows != Layers || summary.ExpertHits.Columns != Experts)
            throw new ArgumentException($"summary of {summary.ExpertHits.Rows} layers x {summary.ExpertHits.Columns} experts does not fit a {Layers} x {Experts} model");
        foreach (var (matrix, cells) in new[]
                 {
                     (summary.ExpertComputeNanoseconds, ExpertComputeNanoseconds), (summary.LayerComputeNanoseconds, LayerComputeNanoseconds),
                     (summary.TierHits, TierHits), (summary.TierMisses, TierMisses), (summary.TierFetchNanoseconds, TierFetchNanoseconds),
                 })
            if (matrix.Cells.Length != cells.Length) throw new ArgumentException($"matrix of {matrix.Rows} x {matrix.Columns} does not fit {cells.Length} cells");
        foreach (SketchDelta s in summary.Sketches)
            if (_sketches.TryGetValue(Key(s.Metric, s.Labels), out SketchTotal? total) && !total.Sketch.Layout.Equals(s.Sketch.Layout))
                throw new ArgumentException($"{s.Metric.Name}: a sketch with layout {s.Sketch.Layout} does not merge into {total.Sketch.Layout}");
    }

    /// <summary>Adds another snapshot (a window slot, or a shard's merge).</summary>
    public void Add(MergedSnapshot other)
    {
        if (other.Layers != Layers || other.Experts != Experts) throw new ArgumentException("snapshots of different model shapes do not merge");
        foreach (CounterTotal c in other.Counters) AddCounter(c.Metric, c.Labels, c.Total);
        foreach (SketchTotal s in other.Sketches) AddSketch(s.Metric, s.Labels, s.Sketch);
        AddCells(ExpertHits, other.ExpertHits);
        AddCells(ExpertComputeNanoseconds, other.ExpertComputeNanoseconds);
        AddCells(LayerComputeNanoseconds, other.LayerComputeNanoseconds);
        AddCells(TierHits, other.TierHits);
        AddCells(TierMisses, other.TierMisses);
        AddCells(TierFetchNanoseconds, other.TierFetchNanoseconds);
        Summaries += other.Summaries;
    }

    /// <summary>The total of one counter over all its label sets matching <paramref name="filter"/>.</summary>
    public double CounterTotal(MetricDefinition metric, Func<IReadOnlyList<string>, bool>? filter = null) =>
        _counters.Values.Where(c => c.Metric == metric && (filter?.Invoke(c.Labels) ?? true)).Sum(c => c.Total);

    /// <summary>One distribution over all its label sets matching <paramref name="filter"/>; null when nothing was recorded.</summary>
    public RelativeErrorSketch? Distribution(MetricDefinition metric, Func<IReadOnlyList<string>, bool>? filter = null)
    {
        RelativeErrorSketch? merged = null;
        foreach (SketchTotal s in _sketches.Values)
        {
            if (s.Metric != metric || !(filter?.Invoke(s.Labels) ?? true)) continue;
            merged ??= new RelativeErrorSketch(s.Sketch.Layout);
            merged.Merge(s.Sketch);
        }
        return merged;
    }

    internal void AddCounter(MetricDefinition metric, IReadOnlyList<string> labels, double delta)
    {
        string key = Key(metric, labels);
        if (_counters.TryGetValue(key, out CounterTotal? total)) total.Total += delta;
        else _counters[key] = new CounterTotal(metric, labels) { Total = delta };
    }

    internal void AddSketch(MetricDefinition metric, IReadOnlyList<string> labels, RelativeErrorSketch sketch)
    {
        string key = Key(metric, labels);
        if (!_sketches.TryGetValue(key, out SketchTotal? total))
            _sketches[key] = total = new SketchTotal(metric, labels, new RelativeErrorSketch(sketch.Layout));
        total.Sketch.Merge(sketch);
    }

    internal static string Key(MetricDefinition metric, IReadOnlyList<string> labels) => metric.Name + "\u001f" + string.Join('\u001f', labels);

    /// <summary>Adds a window slot's matrices and the number of summaries it merged (<see cref="RankWindows"/>).</summary>
    internal void AddMatrices(long[] expertHits, long[] expertCompute, long[] layerCompute, long[] tierHits, long[] tierMisses, long[] tierFetch, long summaries)
    {
        AddCells(ExpertHits, expertHits);
        AddCells(ExpertComputeNanoseconds, expertCompute);
        AddCells(LayerComputeNanoseconds, layerCompute);
        AddCells(TierHits, tierHits);
        AddCells(TierMisses, tierMisses);
        AddCells(TierFetchNanoseconds, tierFetch);
        Summaries += summaries;
    }

    static void AddCells(long[] cells, ReadOnlySpan<long> delta)
    {
        for (int i = 0; i < cells.Length; i++) cells[i] += delta[i];
    }
}

/// <summary>A counter series' total within a snapshot.</summary>
public sealed class CounterTotal(MetricDefinition metric, IReadOnlyList<string> labels)
{
    public MetricDefinition Metric { get; } = metric;
    public IReadOnlyList<string> Labels { get; } = labels;
    public double Total { get; set; }
}

/// <summary>A distribution series' merged sketch within a snapshot.</summary>
public sealed record SketchTotal(MetricDefinition Metric, IReadOnlyList<string> Labels, RelativeErrorSketch Sketch);
