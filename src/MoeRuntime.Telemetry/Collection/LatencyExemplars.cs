using System.Diagnostics;
using MoeRuntime.Telemetry.Catalogue;

namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// Trace-id exemplars for the latency histograms: for each registered series, the latest traced observation in each of
/// the catalogue's buckets (value, trace and span id). The serving path offers them as it records (no allocation,
/// one short lock per series); the Prometheus export takes the new ones each interval and attaches each to one
/// observation of its bucket, so a slow bucket on /metrics names a trace that was slow. Bounded: one slot per bucket
/// per series, whatever the traffic.
/// </summary>
public sealed class LatencyExemplars
{
    readonly Lock _gate = new();
    readonly Dictionary<string, ExemplarHandle> _series = new(StringComparer.Ordinal);

    /// <summary>The histograms the serving path keeps exemplars for (docs/metrics.md lists them).</summary>
    public static IReadOnlyList<MetricDefinition> Families { get; } =
        [MoeMetrics.RequestDurationSeconds, MoeMetrics.TimeToFirstTokenSeconds, MoeMetrics.TimePerOutputTokenSeconds];

    /// <summary>
    /// The series of <paramref name="metric"/> (a histogram of the catalogue) with these label values, registered once;
    /// asking again returns the same handle.
    /// </summary>
    /// <exception cref="ArgumentException">The metric is not a histogram, or the label values do not match its labels.</exception>
    public ExemplarHandle Register(MetricDefinition metric, params string[] labelValues)
    {
        ArgumentNullException.ThrowIfNull(metric);
        ArgumentNullException.ThrowIfNull(labelValues);
        if (metric.Kind != MetricKind.Histogram)
            throw new ArgumentException($"exemplars are kept for histograms only; {metric.Name} is a {metric.Kind}", nameof(metric));
        if (labelValues.Length != metric.Labels.Count)
            throw new ArgumentException($"{metric.Name} has {metric.Labels.Count} labels ({string.Join(", ", metric.Labels.Select(l => l.Name))}), " +
                $"not {labelValues.Length} values", nameof(labelValues));
        string key = Key(metric, labelValues);
        lock (_gate)
        {
            if (!_series.TryGetValue(key, out ExemplarHandle? handle))
                _series[key] = handle = new ExemplarHandle(metric);
            return handle;
        }
    }

    /// <summary>The handle of a series if one was registered, else null (the export asks for every histogram series it has).</summary>
    public ExemplarHandle? Find(MetricDefinition metric, IReadOnlyList<string> labelValues)
    {
        string key = Key(metric, labelValues);
        lock (_gate) return _series.GetValueOrDefault(key);
    }

    static string Key(MetricDefinition metric, IReadOnlyList<string> labelValues) => $"{metric.Name}\u001f{string.Join('\u001f', labelValues)}";
}

/// <summary>One traced observation kept as an exemplar; <see cref="Sequence"/> tells a newer one in the same bucket apart.</summary>
public readonly record struct LatencyExemplar(double Value, ActivityTraceId TraceId, ActivitySpanId SpanId, long Sequence)
{
    /// <summary>The catalogue bucket (index into the buckets, the last being +Inf) the value falls in.</summary>
    public int Bucket { get; init; }
}

/// <summary>The exemplar slots of one histogram series: one per catalogue bucket, plus +Inf.</summary>
public sealed class ExemplarHandle
{
    readonly Lock _gate = new();
    readonly double[] _bounds;
    readonly LatencyExemplar[] _slots;
    readonly bool[] _fresh;
    long _sequence;

    internal ExemplarHandle(MetricDefinition metric)
    {
        _bounds = [.. metric.Buckets];
        _slots = new LatencyExemplar[_bounds.Length + 1];
        _fresh = new bool[_bounds.Length + 1];
    }

    /// <summary>Keeps a traced observation as its bucket's exemplar, replacing an older one. Not finite or a default trace id: ignored.</summary>
    public void Offer(double value, ActivityTraceId traceId, ActivitySpanId spanId)
    {
        if (!double.IsFinite(value) || traceId == default) return;
        int bucket = BucketOf(value);
        lock (_gate)
        {
            _slots[bucket] = new LatencyExemplar(value, traceId, spanId, ++_sequence) { Bucket = bucket };
            _fresh[bucket] = true;
        }
    }

    /// <summary>The exemplars offered since the last take, one per bucket at most, lowest bucket first.</summary>
    public IReadOnlyList<LatencyExemplar> TakeNew()
    {
        List<LatencyExemplar>? taken = null;
        lock (_gate)
        {
            for (int b = 0; b < _slots.Length; b++)
            {
                if (!_fresh[b]) continue;
                _fresh[b] = false;
                (taken ??= []).Add(_slots[b]);
            }
        }
        return taken ?? (IReadOnlyList<LatencyExemplar>)[];
    }

    /// <summary>Gives back an exemplar the export could not use yet (its observation is in the next interval), unless a newer one replaced it.</summary>
    public void Return(LatencyExemplar exemplar)
    {
        lock (_gate)
        {
            if (_slots[exemplar.Bucket].Sequence == exemplar.Sequence) _fresh[exemplar.Bucket] = true;
        }
    }

    /// <summary>The catalogue bucket of a value: the first whose upper bound is at least the value (Prometheus's <c>le</c>), else +Inf.</summary>
    public int BucketOf(double value)
    {
        int at = Array.BinarySearch(_bounds, value);
        return at >= 0 ? at : ~at;
    }
}
