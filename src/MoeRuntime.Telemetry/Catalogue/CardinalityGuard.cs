namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>
/// Caps the label sets each metric may have on one rank (<see cref="MetricDefinition.MaxSeries"/>)
/// and counts what it turns away. Consulted when a series is registered, never per record.
/// </summary>
public sealed class CardinalityGuard
{
    private readonly Dictionary<MetricDefinition, HashSet<string>> _admitted = [];
    private readonly Dictionary<MetricDefinition, long> _refused = [];
    private readonly object _gate = new();

    /// <summary>
    /// Admits the label set if it is already known or the metric is under its cap. The values must
    /// match the metric's labels in number and be accepted by each label.
    /// </summary>
    /// <exception cref="ArgumentException">Wrong number of values or a value the label does not accept.</exception>
    public bool TryAdmit(MetricDefinition metric, IReadOnlyList<string> labelValues)
    {
        if (labelValues.Count != metric.Labels.Count)
            throw new ArgumentException($"{metric.Name} takes {metric.Labels.Count} label values, got {labelValues.Count}.", nameof(labelValues));
        for (var i = 0; i < labelValues.Count; i++)
        {
            if (!metric.Labels[i].Accepts(labelValues[i]))
                throw new ArgumentException($"{metric.Name}: '{labelValues[i]}' is not a value of label {metric.Labels[i].Name}.", nameof(labelValues));
        }

        var key = string.Join('\u001f', labelValues);
        lock (_gate)
        {
            if (!_admitted.TryGetValue(metric, out var sets)) _admitted[metric] = sets = [];
            if (sets.Contains(key)) return true;
            if (sets.Count < metric.MaxSeries) return sets.Add(key);
            _refused[metric] = _refused.GetValueOrDefault(metric) + 1;
            return false;
        }
    }

    /// <summary>Label sets refused for <paramref name="metric"/> so far.</summary>
    public long RefusedFor(MetricDefinition metric)
    {
        lock (_gate) return _refused.GetValueOrDefault(metric);
    }

    /// <summary>Label sets refused across all metrics so far.</summary>
    public long Refused
    {
        get { lock (_gate) return _refused.Values.Sum(); }
    }
}
