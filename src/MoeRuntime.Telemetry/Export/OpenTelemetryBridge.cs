using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Export;

/// <summary>
/// The catalogue's families as OpenTelemetry instruments on the <see cref="MeterName"/> meter, fed by the same
/// summaries as /metrics, for OTLP export. Counters and gauges are observable instruments reporting the running
/// totals, so nothing is recorded twice on the hot path. Distributions are histograms with the catalogue's bucket
/// bounds (given as the instrument's advice): OpenTelemetry has no observable histogram, so each summary's sketch
/// deltas are replayed into them, one recording per value at its sketch bucket's representative, as /metrics does
/// (counts exact, sums and bucket placement within the sketches' 1 %). The replay runs once per summary on the
/// agent's thread, never on the serving path.
/// </summary>
public sealed class OpenTelemetryBridge : IDisposable
{
    public const string MeterName = "MoeRuntime";
    readonly Meter _meter = new(MeterName);
    readonly ConcurrentDictionary<MetricDefinition, ConcurrentDictionary<string, Series>> _series = new();
    readonly Dictionary<MetricDefinition, Histogram<double>> _histograms = [];
    readonly string _model, _rank;

    public OpenTelemetryBridge(string model, string rank)
    {
        _model = model;
        _rank = rank;
        foreach (MetricDefinition metric in MoeMetrics.All)
        {
            var series = _series.GetOrAdd(metric, _ => new ConcurrentDictionary<string, Series>());
            if (metric.Kind == MetricKind.Histogram)
                _histograms[metric] = _meter.CreateHistogram(metric.Name, metric.Unit, metric.Help, tags: null,
                    new InstrumentAdvice<double> { HistogramBucketBoundaries = metric.Buckets });
            else if (metric.Kind == MetricKind.Counter)
                _meter.CreateObservableCounter(metric.Name, () => Observe(series), metric.Unit, metric.Help);
            else
                _meter.CreateObservableGauge(metric.Name, () => Observe(series), metric.Unit, metric.Help);
        }
    }

    /// <summary>Adds a summary's counter deltas to the totals and takes its gauge values.</summary>
    public void Add(RankSummary summary)
    {
        foreach (CounterDelta c in summary.Counters) Find(c.Metric, c.Labels).Value += c.Delta;
        foreach (GaugeValue g in summary.Gauges) Find(g.Metric, g.Labels).Value = g.Value;
        foreach (SketchDelta s in summary.Sketches)
            if (_histograms.TryGetValue(s.Metric, out Histogram<double>? histogram)) Replay(histogram, Find(s.Metric, s.Labels).Tags, s.Sketch);
    }

    static void Replay(Histogram<double> histogram, KeyValuePair<string, object?>[] tags, RelativeErrorSketch sketch)
    {
        ReadOnlySpan<KeyValuePair<string, object?>> labels = tags;
        for (long i = 0; i < sketch.ZeroCount; i++) histogram.Record(0, labels);
        ReadOnlySpan<long> buckets = sketch.Buckets;
        for (int b = 0; b < buckets.Length; b++)
        {
            if (buckets[b] == 0) continue;
            double value = sketch.Layout.ValueOf(b);
            for (long i = 0; i < buckets[b]; i++) histogram.Record(value, labels);
        }
    }

    Series Find(MetricDefinition metric, IReadOnlyList<string> labels) =>
        _series[metric].GetOrAdd(string.Join('\u001f', labels), _ =>
        {
            var tags = new List<KeyValuePair<string, object?>> { new("rank", _rank) };
            if (metric.Scope == MetricScope.Model) tags.Add(new("model", _model));
            for (int i = 0; i < metric.Labels.Count && i < labels.Count; i++) tags.Add(new(metric.Labels[i].Name, labels[i]));
            return new Series(tags.ToArray());
        });

    static IEnumerable<Measurement<double>> Observe(ConcurrentDictionary<string, Series> series) =>
        series.Values.Select(s => new Measurement<double>(s.Value, s.Tags));

    public void Dispose() => _meter.Dispose();

    sealed class Series(KeyValuePair<string, object?>[] tags)
    {
        public KeyValuePair<string, object?>[] Tags { get; } = tags;
        public double Value { get; set; }
    }
}
