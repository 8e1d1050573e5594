using System.Globalization;
using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>A /metrics page in Prometheus text format: its families and sample values, parsed just enough for assertions.</summary>
public sealed partial class MetricsText(string text)
{
    public string Text { get; } = text;

    /// <summary>Family names from the <c># TYPE</c> lines.</summary>
    public IReadOnlyList<string> Families() =>
        TypeLine().Matches(Text).Select(m => m.Groups[1].Value).Distinct().ToArray();

    /// <summary>Sum of the samples of series <paramref name="name"/> whose labels include every one of <paramref name="labels"/>.</summary>
    public double Sum(string name, params (string Label, string Value)[] labels) =>
        SampleLine().Matches(Text)
            .Where(m => m.Groups["name"].Value == name && labels.All(l => m.Groups["labels"].Value.Contains($"{l.Label}=\"{l.Value}\"", StringComparison.Ordinal)))
            .Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    /// <summary>The values label <paramref name="label"/> takes across the series of <paramref name="name"/>.</summary>
    public IReadOnlyList<string> LabelValues(string name, string label) =>
        SampleLine().Matches(Text)
            .Where(m => m.Groups["name"].Value == name)
            .Select(m => Regex.Match(m.Groups["labels"].Value, $"(?:^|,){Regex.Escape(label)}=\"([^\"]*)\"").Groups[1].Value)
            .Where(v => v.Length > 0)
            .Distinct()
            .ToArray();

    /// <summary>The label names of each sample of <paramref name="name"/>, sorted ordinally (one array per sample).</summary>
    public IReadOnlyList<string[]> LabelNames(string name) =>
        SampleLine().Matches(Text)
            .Where(m => m.Groups["name"].Value == name)
            .Select(m => LabelName().Matches(m.Groups["labels"].Value).Select(l => l.Groups[1].Value).Order(StringComparer.Ordinal).ToArray())
            .ToArray();

    [GeneratedRegex(@"(?:^|,)([a-zA-Z_][a-zA-Z0-9_]*)=""")]
    private static partial Regex LabelName();

    [GeneratedRegex(@"^# TYPE (\S+) \S+$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
