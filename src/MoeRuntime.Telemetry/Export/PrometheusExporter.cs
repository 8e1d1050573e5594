using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;
using Prometheus;

namespace MoeRuntime.Telemetry.Export;

/// <summary>
/// The rank's series in Prometheus form, built from the same summaries the rank ships to its
/// aggregator, so /metrics and the aggregated views never disagree on what was measured. Every
/// family comes from the catalogue (name, help, labels, buckets); histograms are the sketches'
/// buckets replayed into the catalogue's bucket bounds (within the sketches' 1 % accuracy). Latency histograms
/// carry trace-id exemplars (OpenMetrics only) from <see cref="LatencyExemplars"/>: each replaces one observation of its
/// bucket in the replay, so bucket counts stay the sketches' own.
/// </summary>
public sealed class PrometheusExporter
{
    static readonly string[] TierNames = ["hot", "warm", "cold"];
    readonly CollectorRegistry _registry;
    readonly string _model, _rank;
    readonly Dictionary<MetricDefinition, Collector> _families = [];
    readonly Cumulative _totals;
    readonly Dictionary<int, long> _mismatchesSeen = [];
    readonly LatencyExemplars? _exemplars;
    static readonly Exemplar.LabelKey TraceIdKey = Exemplar.Key("trace_id");
    static readonly Exemplar.LabelKey SpanIdKey = Exemplar.Key("span_id");

    /// <param name="exemplars">Where the serving path keeps traced observations; null exports no exemplars.</param>
    public PrometheusExporter(CollectorRegistry registry, string model, string rank, int layers, int experts, LatencyExemplars? exemplars = null)
    {
        _registry = registry;
        _exemplars = exemplars;
        _model = model;
        _rank = rank;
        _totals = new Cumulative(layers, experts);
        MetricFactory factory = Metrics.WithCustomRegistry(registry);
        foreach (MetricDefinition metric in MoeMetrics.All)
        {
            string[] labels = [.. metric.Scope == MetricScope.Model ? ["model"] : Array.Empty<string>(), "rank", .. metric.Labels.Select(l => l.Name)];
            _families[metric] = metric.Kind switch
            {
                MetricKind.Counter => factory.CreateCounter(metric.Name, metric.Help, new CounterConfiguration { LabelNames = labels }),
                MetricKind.Gauge => factory.CreateGauge(metric.Name, metric.Help, new GaugeConfiguration { LabelNames = labels }),
                // No exemplar from whatever activity is current when the interval is replayed: only the serving path's.
                _ => factory.CreateHistogram(metric.Name, metric.Help, new HistogramConfiguration
                {
                    LabelNames = labels, Buckets = metric.Buckets.ToArray(), ExemplarBehavior = ExemplarBehavior.NoExemplars(),
                }),
            };
        }
        // Zero-valued mismatch series exist from the start, so increase() sees the first mismatch.
        for (int layer = 0; layer < layers; layer++) Counter(MoeMetrics.RoutingMismatchesTotal, layer.ToString());
    }

    public CollectorRegistry Registry => _registry;

    /// <summary>Adds one interval of this rank's measurements.</summary>
    public void Add(RankSummary summary)
    {
        foreach (CounterDelta c in summary.Counters) Counter(c.Metric, [.. c.Labels]).Inc(c.Delta);
        foreach (GaugeValue g in summary.Gauges) Gauge(g.Metric, [.. g.Labels]).Set(g.Value);
        foreach (SketchDelta s in summary.Sketches)
            Replay(Histogram(s.Metric, [.. s.Labels]), s.Sketch, _exemplars?.Find(s.Metric, s.Labels), s.Metric.Buckets);
        AddMatrices(summary);
        SetDerived();
    }

    /// <summary>Re-exports the cluster view: quantiles and burn rates per window, stale ranks, and the mismatches this rank re-checked.</summary>
    public void SetCluster(IReadOnlyList<TelemetryView> views)
    {
        foreach (TelemetryView view in views)
        {
            foreach (var (metric, q) in view.Latency)
            {
                Gauge(MoeMetrics.ClusterLatencySeconds, metric, "0.5", view.Window).Set(q.P50);
                Gauge(MoeMetrics.ClusterLatencySeconds, metric, "0.9", view.Window).Set(q.P90);
                Gauge(MoeMetrics.ClusterLatencySeconds, metric, "0.95", view.Window).Set(q.P95);
                Gauge(MoeMetrics.ClusterLatencySeconds, metric, "0.99", view.Window).Set(q.P99);
            }
            foreach (SloStatus slo in view.Slos) Gauge(MoeMetrics.ClusterSloBurnRate, slo.Name, view.Window).Set(slo.BurnRate);
            Gauge(MoeMetrics.ClusterStaleRanks).Set(view.Ranks.Stale);
            foreach (Drift.LayerDrift layer in view.RoutingDrift?.Layers ?? [])
            {
                Gauge(MoeMetrics.RoutingDriftPsi, layer.Layer.ToString()).Set(layer.Psi);
                Gauge(MoeMetrics.RoutingDriftChoiceShiftRatio, layer.Layer.ToString()).Set(layer.ChoiceShift);
            }
        }
        // Each mismatch is exported once in the cluster: by the second rank of its pair.
        if (views.Count == 0) return;
        foreach (var byLayer in views[0].Mismatches.ByLayerAndRanks.Where(m => m.RankB == _rank).GroupBy(m => m.Layer))
        {
            long total = byLayer.Sum(m => m.Count), seen = _mismatchesSeen.GetValueOrDefault(byLayer.Key);
            if (total > seen) Counter(MoeMetrics.RoutingMismatchesTotal, byLayer.Key.ToString()).Inc(total - seen);
            _mismatchesSeen[byLayer.Key] = Math.Max(seen, total);
        }
    }

    /// <summary>Counts a refused call on a telemetry endpoint.</summary>
    public void AccessDenied(string endpoint) => Counter(MoeMetrics.AccessDenialsTotal, endpoint).Inc();

    /// <summary>Counts a grain call or telemetry refused for its sender (<c>grain_role</c>, <c>signed_call</c>, <c>summary_rank</c>, <c>sequence_jump</c>).</summary>
    public void SecurityDenied(string kind) => Counter(MoeMetrics.SecurityDeniedTotal, kind).Inc();

    /// <summary>Counts a summary a shard aggregator on this rank refused, by the catalogue's reason.</summary>
    public void SummaryRejected(string reason) => Counter(MoeMetrics.SummariesRejectedTotal, reason).Inc();

    void AddMatrices(RankSummary s)
    {
        int layers = s.ExpertHits.Rows, experts = s.ExpertHits.Columns;
        for (int l = 0; l < layers; l++)
        {
            string layer = l.ToString();
            double layerNs = s.LayerComputeNanoseconds[0, l];
            if (layerNs > 0) Counter(MoeMetrics.LayerComputeTimeTotal, layer).Inc(layerNs * 1e-9);
            for (int e = 0; e < experts; e++)
            {
                long hits = s.ExpertHits[l, e];
                if (hits > 0) Counter(MoeMetrics.ExpertHitsTotal, layer, e.ToString()).Inc(hits);
                long ns = s.ExpertComputeNanoseconds[l, e];
                if (ns > 0) Counter(MoeMetrics.ExpertComputeTimeTotal, layer, e.ToString()).Inc(ns * 1e-9);
            }
            for (int t = 0; t < StorageTiers.Count; t++)
            {
                if (s.TierHits[t, l] > 0) Counter(MoeMetrics.TierHitsTotal, TierNames[t], layer).Inc(s.TierHits[t, l]);
                if (s.TierMisses[t, l] > 0) Counter(MoeMetrics.TierMissesTotal, TierNames[t], layer).Inc(s.TierMisses[t, l]);
                if (s.TierFetchNanoseconds[t, l] > 0) Counter(MoeMetrics.TierFetchTimeTotal, TierNames[t], layer).Inc(s.TierFetchNanoseconds[t, l] * 1e-9);
            }
        }
        _totals.Add(s);
    }

    /// <summary>The ratios the catalogue marks derived, for this rank since it started.</summary>
    void SetDerived()
    {
        for (int l = 0; l < _totals.Layers; l++)
        {
            long[] hits = Enumerable.Range(0, _totals.Experts).Select(e => _totals.ExpertHits[l * _totals.Experts + e]).ToArray();
            double mean = hits.Average();
            if (mean > 0) Gauge(MoeMetrics.ExpertImbalanceRatio, l.ToString()).Set(hits.Max() / mean);
        }
        long calls = _totals.TierHits.Sum();
        if (calls > 0) Gauge(MoeMetrics.ColdMissRatio).Set(_totals.TierHits.Skip(2 * _totals.Layers).Sum() / (double)calls);
        foreach (string tier in TierNames)
        {
            double memory = Gauge(MoeMetrics.TierMemoryBytes, tier).Value, capacity = Gauge(MoeMetrics.TierCapacityBytes, tier).Value;
            if (capacity > 0) Gauge(MoeMetrics.TierOccupancyRatio, tier).Set(memory / capacity);
        }
        double kvHits = Counter(MoeMetrics.KvCacheLookupsTotal, "hit").Value, kvMisses = Counter(MoeMetrics.KvCacheLookupsTotal, "miss").Value;
        if (kvHits + kvMisses > 0) Gauge(MoeMetrics.KvCacheHitRatio).Set(kvHits / (kvHits + kvMisses));
        double used = Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "used").Value, wasted = Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "wasted").Value;
        if (used + wasted > 0) Gauge(MoeMetrics.PrefetchEffectivenessRatio).Set(used / (used + wasted));
    }

    /// <summary>
    /// The interval's sketch into the histogram. Each new exemplar takes the place of one observation of the sketch bucket
    /// its value falls in, or failing that (its observation is in the next interval) of another sketch bucket in the same
    /// catalogue bucket; with neither it waits for the next interval. Counts per catalogue bucket are unchanged.
    /// </summary>
    static void Replay(Histogram.Child histogram, RelativeErrorSketch sketch, ExemplarHandle? exemplars, IReadOnlyList<double> bounds)
    {
        ReadOnlySpan<long> buckets = sketch.Buckets;
        IReadOnlyList<LatencyExemplar> pending = exemplars?.TakeNew() ?? [];
        long[]? used = null;
        foreach (LatencyExemplar exemplar in pending)
        {
            int own = sketch.Layout.OffsetOf(exemplar.Value);
            int at = own < buckets.Length && buckets[own] - (used?[own] ?? 0) > 0 && CatalogueBucket(sketch.Layout.ValueOf(own), bounds) == exemplar.Bucket
                ? own : SameCatalogueBucket(sketch, buckets, used, bounds, exemplar.Bucket);
            if (at < 0)
            {
                exemplars!.Return(exemplar);
                continue;
            }
            used ??= new long[buckets.Length];
            used[at]++;
            histogram.Observe(exemplar.Value, Exemplar.From(TraceIdKey.WithValue(exemplar.TraceId.ToHexString()), SpanIdKey.WithValue(exemplar.SpanId.ToHexString())));
        }
        if (sketch.ZeroCount > 0) histogram.Observe(0, sketch.ZeroCount);
        for (int i = 0; i < buckets.Length; i++)
        {
            long count = buckets[i] - (used?[i] ?? 0);
            if (count > 0) histogram.Observe(sketch.Layout.ValueOf(i), count);
        }
    }

    /// <summary>A sketch bucket with an observation left whose value falls in catalogue bucket <paramref name="bucket"/>, or -1.</summary>
    static int SameCatalogueBucket(RelativeErrorSketch sketch, ReadOnlySpan<long> buckets, long[]? used, IReadOnlyList<double> bounds, int bucket)
    {
        for (int i = 0; i < buckets.Length; i++)
        {
            if (buckets[i] - (used?[i] ?? 0) <= 0) continue;
            if (CatalogueBucket(sketch.Layout.ValueOf(i), bounds) == bucket) return i;
        }
        return -1;
    }

    /// <summary>The catalogue bucket a value counts in: the first whose upper bound is at least the value, else +Inf.</summary>
    static int CatalogueBucket(double value, IReadOnlyList<double> bounds)
    {
        int b = 0;
        while (b < bounds.Count && value > bounds[b]) b++;
        return b;
    }

    string[] Labels(MetricDefinition metric, string[] values) =>
        metric.Scope == MetricScope.Model ? [_model, _rank, .. values] : [_rank, .. values];

    Counter.Child Counter(MetricDefinition metric, params string[] values) => ((Counter)_families[metric]).WithLabels(Labels(metric, values));
    Gauge.Child Gauge(MetricDefinition metric, params string[] values) => ((Gauge)_families[metric]).WithLabels(Labels(metric, values));
    Histogram.Child Histogram(MetricDefinition metric, params string[] values) => ((Histogram)_families[metric]).WithLabels(Labels(metric, values));

    /// <summary>Running totals the derived ratios are computed from.</summary>
    sealed class Cumulative(int layers, int experts)
    {
        public int Layers { get; } = layers;
        public int Experts { get; } = experts;
        public long[] ExpertHits { get; } = new long[layers * experts];
        public long[] TierHits { get; } = new long[StorageTiers.Count * layers];

        public void Add(RankSummary s)
        {
            for (int i = 0; i < ExpertHits.Length; i++) ExpertHits[i] += s.ExpertHits.Cells[i];
            for (int i = 0; i < TierHits.Length; i++) TierHits[i] += s.TierHits.Cells[i];
        }
    }
}
