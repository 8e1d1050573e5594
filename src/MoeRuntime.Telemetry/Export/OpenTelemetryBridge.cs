using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Export;

/// <summary>
/// The catalogue's counters and gauges as OpenTelemetry instruments on the <see cref="MeterName"/>
/// meter, fed by the same summaries as /metrics, for OTLP export. Observable instruments report the
/// running totals, so nothing is recorded twice on the hot path. Distributions stay on /metrics and
/// in the aggregator's views: OpenTelemetry has no observable histogram to replay sketches into.
/// </summary>
public sealed class OpenTelemetryBridge : IDisposable
{
    public const string MeterName = "MoeRuntime";
    readonly Meter _meter = new(MeterName);
    readonly ConcurrentDictionary<MetricDefinition, ConcurrentDictionary<string, Series>> _series = new();
    readonly string _model, _rank;

    public OpenTelemetryBridge(string model, string rank)
    {
        _model = model;
        _rank = rank;
        foreach (MetricDefinition metric in MoeMetrics.All.Where(m => m.Kind != MetricKind.Histogram))
        {
            var series = _series.GetOrAdd(metric, _ => new ConcurrentDictionary<string, Series>());
            if (metric.Kind == MetricKind.Counter)
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
