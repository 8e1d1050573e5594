using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>The metric names in docs/metrics.md, the catalogue generated from <c>MoeMetrics</c>.</summary>
static partial class MetricCatalogue
{
    public static string Path { get; } = System.IO.Path.Combine(RepositoryRoot(), "docs", "metrics.md");

    /// <summary>Family names from the first column of the catalogue's table.</summary>
    public static HashSet<string> Names() =>
        TableRow().Matches(File.ReadAllText(Path)).Select(m => m.Groups[1].Value).ToHashSet();

    static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(System.IO.Path.Combine(directory.FullName, "MoeRuntime.sln"))) return directory.FullName;
        throw new InvalidOperationException($"no MoeRuntime.sln above {AppContext.BaseDirectory}");
    }

    [GeneratedRegex(@"^\|\s*`(moe_[a-z0-9_]+)`\s*\|\s*(?:counter|gauge|histogram)\s*\|", RegexOptions.Multiline)]
    private static partial Regex TableRow();
}
