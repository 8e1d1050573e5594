using System.Text.RegularExpressions;

namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>
/// One metric of the catalogue: everything an exporter, a collector or the docs need to know about it.
/// The constructor refuses definitions that break the project's naming and cardinality rules, so a
/// bad entry fails at start-up rather than in a dashboard.
/// </summary>
public sealed partial class MetricDefinition
{
    /// <summary>Series per metric a rank keeps before the cardinality guard starts dropping.</summary>
    public const int DefaultMaxSeries = 64;

    /// <summary>Creates a definition and checks it against the catalogue's rules.</summary>
    public MetricDefinition(
        string name,
        MetricKind kind,
        string unit,
        string help,
        IReadOnlyList<LabelDefinition> labels,
        IReadOnlyList<double>? buckets = null,
        MetricSource source = MetricSource.Series,
        MetricScope scope = MetricScope.Model,
        bool sampledPerToken = false,
        int maxSeries = DefaultMaxSeries)
    {
        if (!NamePattern().IsMatch(name)) throw new ArgumentException($"Metric name '{name}' must match moe_[a-z0-9_]+.", nameof(name));
        if (kind == MetricKind.Counter != name.EndsWith("_total", StringComparison.Ordinal))
            throw new ArgumentException($"'{name}': counters, and only counters, end in _total.", nameof(name));
        if (kind == MetricKind.Histogram != buckets is { Count: > 0 })
            throw new ArgumentException($"'{name}': histograms, and only histograms, have buckets.", nameof(buckets));
        if (buckets is not null && !IsStrictlyIncreasingPositive(buckets))
            throw new ArgumentException($"'{name}': buckets must be positive and strictly increasing.", nameof(buckets));
        if (sampledPerToken && kind != MetricKind.Histogram)
            throw new ArgumentException($"'{name}': only distributions are sampled; counters stay exact.", nameof(sampledPerToken));
        if (labels.Select(l => l.Name).Distinct().Count() != labels.Count)
            throw new ArgumentException($"'{name}': duplicate label names.", nameof(labels));
        if (labels.Contains(MetricLabels.Expert) && source != MetricSource.Matrix)
            throw new ArgumentException($"'{name}': the expert label is allowed only on layer × expert matrices.", nameof(labels));
        if (labels.Contains(MetricLabels.Model) || labels.Contains(MetricLabels.Rank))
            throw new ArgumentException($"'{name}': model and rank are implicit (see scope).", nameof(labels));
        if (maxSeries < 1) throw new ArgumentOutOfRangeException(nameof(maxSeries));

        Name = name;
        Kind = kind;
        Unit = unit;
        Help = help;
        Labels = labels;
        Buckets = buckets ?? [];
        Source = source;
        Scope = scope;
        SampledPerToken = sampledPerToken;
        MaxSeries = maxSeries;
    }

    /// <summary>Exported name, <c>moe_*</c>.</summary>
    public string Name { get; }

    /// <summary>Counter, gauge or histogram.</summary>
    public MetricKind Kind { get; }

    /// <summary>UCUM-ish unit as OpenTelemetry spells it: <c>s</c>, <c>By</c>, <c>{token}</c>, <c>USD</c>, <c>1</c>.</summary>
    public string Unit { get; }

    /// <summary>One-line help text, exported as HELP.</summary>
    public string Help { get; }

    /// <summary>The labels a recording site supplies, in order; <c>model</c>/<c>rank</c> come from <see cref="Scope"/>.</summary>
    public IReadOnlyList<LabelDefinition> Labels { get; }

    /// <summary>Upper bounds of the exported histogram buckets (without +Inf); empty unless a histogram.</summary>
    public IReadOnlyList<double> Buckets { get; }

    /// <summary>Where the numbers come from.</summary>
    public MetricSource Source { get; }

    /// <summary>Which implicit labels the series carry.</summary>
    public MetricScope Scope { get; }

    /// <summary>Whether the per-token path records only every N-th token (N is the collector's setting).</summary>
    public bool SampledPerToken { get; }

    /// <summary>Label sets a rank keeps for this metric; further ones are dropped and counted.</summary>
    public int MaxSeries { get; }

    /// <inheritdoc />
    public override string ToString() => Name;

    private static bool IsStrictlyIncreasingPositive(IReadOnlyList<double> bounds)
    {
        for (var i = 0; i < bounds.Count; i++)
        {
            if (!(bounds[i] > 0) || double.IsInfinity(bounds[i])) return false;
            if (i > 0 && !(bounds[i] > bounds[i - 1])) return false;
        }
        return true;
    }

    [GeneratedRegex("^moe_[a-z0-9_]+$")]
    private static partial Regex NamePattern();
}
