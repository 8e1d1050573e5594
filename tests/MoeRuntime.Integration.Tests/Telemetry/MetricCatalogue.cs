using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>The metric names in docs/metrics.md, the catalogue generated from <c>MoeMetrics</c>.</summary>
static partial class MetricCatalogue
{
    public static string Path { get; } = System.IO.Path.Combine(RepositoryRoot(), "docs", "metrics.md");

    /// <summary>Family names from the first column of the catalogue's table.</summary>
    public static HashSet<string> Names() =>
        TableRow().Matches(File.ReadAllText(Path)).Select(m => m.Groups[1].Value).ToHashSet();

    /// <summary>
    /// Every family of the catalogue's table with its kind, its own labels and the implicit ones its scope adds
    /// (<c>rank</c> always, <c>model</c> on model-scoped families).
    /// </summary>
    public static IReadOnlyList<CataloguedFamily> Families() =>
        FullRow().Matches(File.ReadAllText(Path)).Select(m => new CataloguedFamily(
            m.Groups["name"].Value, m.Groups["kind"].Value,
            m.Groups["labels"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim('`')).ToArray(),
            m.Groups["scope"].Value == "model" ? ["model", "rank"] : ["rank"])).ToArray();

    static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "MoeRuntime.sln"))) return directory.FullName;
        throw new InvalidOperationException($"no MoeRuntime.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\|\s*`(moe_[a-z0-9_]+)`\s*\|\s*(?:counter|gauge|histogram)\s*\|", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    // | name | kind | unit | labels | source | scope | sampled | help |
    [GeneratedRegex(@"^\|\s*`(?<name>moe_[a-z0-9_]+)`\s*\|\s*(?<kind>counter|gauge|histogram)\s*\|[^|]*\|(?<labels>[^|]*)\|[^|]*\|\s*(?<scope>[a-z]+)\s*\|", RegexOptions.Multiline)]
    private static partial Regex FullRow();
}

/// <summary>One family of docs/metrics.md: its name, kind, catalogued labels and the labels its scope implies.</summary>
sealed record CataloguedFamily(string Name, string Kind, string[] Labels, string[] ImplicitLabels);
