namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>The Prometheus/OpenTelemetry shape of a metric.</summary>
public enum MetricKind
{
    /// <summary>Monotonic total; summaries carry it as a delta per interval.</summary>
    Counter,
    /// <summary>Current value; summaries carry the last value of the interval.</summary>
    Gauge,
    /// <summary>Distribution; ranks record it into a relative-error sketch, exporters bucket it by <see cref="MetricDefinition.Buckets"/>.</summary>
    Histogram,
}

/// <summary>Where a metric's numbers come from.</summary>
public enum MetricSource
{
    /// <summary>Recorded on the rank through a pre-registered handle, one series per label set.</summary>
    Series,
    /// <summary>Recorded on the rank into a dense layer/expert/tier matrix sized by the model.</summary>
    Matrix,
    /// <summary>Computed by the rank collector when it builds a summary (cost estimates).</summary>
    Computed,
    /// <summary>Computed by the aggregator from other metrics; never recorded on a rank.</summary>
    Derived,
}

/// <summary>Which implicit labels every series of a metric carries besides its own.</summary>
public enum MetricScope
{
    /// <summary>Series carry <c>model</c> and <c>rank</c>.</summary>
    Model,
    /// <summary>Series carry <c>rank</c> only: the silo's own activity, shared by the models it serves.</summary>
    Rank,
}
