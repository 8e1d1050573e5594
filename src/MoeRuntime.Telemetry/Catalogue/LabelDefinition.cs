namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>
/// A label a metric may carry. Either its values are a closed set, or <see cref="Bound"/> says in
/// words what keeps the number of values small (labels without either are refused: they are how
/// request ids and user ids leak into series names).
/// </summary>
public sealed class LabelDefinition
{
    /// <summary>Creates a label with a closed set of values.</summary>
    public LabelDefinition(string name, params string[] values)
        : this(name, values, bound: $"one of {values.Length} fixed values")
    {
        if (values.Length == 0) throw new ArgumentException("A closed label needs at least one value.", nameof(values));
    }

    private LabelDefinition(string name, IReadOnlyList<string> values, string bound)
    {
        Name = name;
        Values = values;
        Bound = bound;
    }

    /// <summary>Creates a label whose values are open but bounded by something outside the catalogue (the model's shape, the catalogue itself).</summary>
    public static LabelDefinition Bounded(string name, string bound) => new(name, [], bound);

    /// <summary>The label's name as exported.</summary>
    public string Name { get; }

    /// <summary>The allowed values; empty when the label is bounded rather than closed.</summary>
    public IReadOnlyList<string> Values { get; }

    /// <summary>What keeps the label's cardinality low, for the docs.</summary>
    public string Bound { get; }

    /// <summary>Whether <paramref name="value"/> may be recorded under this label.</summary>
    public bool Accepts(string value) =>
        Values.Count == 0 ? value.Length is > 0 and <= MetricLabels.MaxValueLength : Values.Contains(value);
}
