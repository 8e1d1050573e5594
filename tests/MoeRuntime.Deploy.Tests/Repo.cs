using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace MoeRuntime.Deploy.Tests;

/// <summary>Paths in the repository, found from the test's output folder.</summary>
static class Repo
{
    static readonly Lazy<string> RootLazy = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MoeRuntime.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No MoeRuntime.sln above {AppContext.BaseDirectory}");
    });

    public static string Root => RootLazy.Value;
    public static string Deploy => Path.Combine(Root, "deploy");
    public static string Prometheus => Path.Combine(Deploy, "prometheus");
    public static string RecordingRules => Path.Combine(Prometheus, "rules", "recording.yml");
    public static string AlertRules => Path.Combine(Prometheus, "rules", "alerts.yml");
    public static string Dashboard => Path.Combine(Deploy, "grafana", "moe-runtime.json");
    public static string Runbooks => Path.Combine(Deploy, "runbooks.md");
    public static string Catalogue => Path.Combine(Root, "docs", "metrics.md");

    public static string[] RuleTests() =>
        Directory.GetFiles(Path.Combine(Prometheus, "tests"), "*.yml").Order(StringComparer.Ordinal).ToArray();

    public static string Relative(string path) => Path.GetRelativePath(Root, path);
}

/// <summary>Runs the real promtool (Debian package "prometheus").</summary>
static class Promtool
{
    static readonly Lazy<string?> PathLazy = new(() =>
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "promtool");
            if (File.Exists(candidate)) return candidate;
        }
        return File.Exists("/usr/bin/promtool") ? "/usr/bin/promtool" : null;
    });

    /// <summary>The promtool executable; fails the test (never skips it) when it is not installed.</summary>
    public static string Executable => PathLazy.Value ?? throw new InvalidOperationException(
        "promtool was not found on PATH. Install it with `apt-get install -y prometheus` (Debian 12 ships 2.42); " +
        "tests/run installs it on a fresh machine.");

    public sealed record Result(int ExitCode, string Output, string CommandLine)
    {
        public string Describe() => $"$ {CommandLine}\n(exit {ExitCode})\n{Output}";
    }

    public static Result Run(params string[] args)
    {
        var info = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) info.ArgumentList.Add(arg);
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"promtool {string.Join(' ', args)} did not finish in 3 minutes:\n{output}");
        }
        process.WaitForExit(); // drains the output handlers
        lock (output)
            return new Result(process.ExitCode, output.ToString(), "promtool " + string.Join(' ', args));
    }
}

/// <summary>The metric catalogue (docs/metrics.md) plus the aggregator's cluster gauges.</summary>
sealed class Catalogue
{
    /// <summary>Series the cluster aggregator exports on every silo (not in the rank catalogue).</summary>
    public static readonly IReadOnlyDictionary<string, string> ClusterMetrics = new Dictionary<string, string>
    {
        ["moe_cluster_latency_seconds"] = "gauge",
        ["moe_cluster_slo_burn_rate"] = "gauge",
        ["moe_cluster_stale_ranks"] = "gauge",
    };

    static readonly Regex Row = new(@"^\|\s*`(moe_[a-z0-9_]+)`\s*\|\s*(counter|gauge|histogram)\s*\|", RegexOptions.Multiline);

    public IReadOnlyDictionary<string, string> Kinds { get; }

    Catalogue(IReadOnlyDictionary<string, string> kinds) => Kinds = kinds;

    public static Catalogue Load()
    {
        Assert.True(File.Exists(Repo.Catalogue),
            $"The metric catalogue {Repo.Catalogue} is missing (it is generated from MoeMetrics by the telemetry tests).");
        var kinds = new Dictionary<string, string>(ClusterMetrics);
        foreach (Match m in Row.Matches(File.ReadAllText(Repo.Catalogue)))
            kinds[m.Groups[1].Value] = m.Groups[2].Value;
        Assert.True(kinds.Count > ClusterMetrics.Count + 10, $"Found only {kinds.Count} metrics in {Repo.Catalogue}");
        return new Catalogue(kinds);
    }

    public bool IsHistogram(string name) => Kinds.TryGetValue(name, out string? kind) && kind == "histogram";

    /// <summary>Whether a series name exists: a counter or gauge by its name, a histogram by _bucket/_sum/_count.</summary>
    public bool Exports(string series)
    {
        if (Kinds.TryGetValue(series, out string? kind)) return kind != "histogram";
        foreach (string suffix in new[] { "_bucket", "_sum", "_count" })
            if (series.EndsWith(suffix, StringComparison.Ordinal)
                && Kinds.TryGetValue(series[..^suffix.Length], out kind) && kind == "histogram")
                return true;
        return false;
    }
}

static class Names
{
    // A metric name in PromQL; not a label value metric="..." of moe_cluster_latency_seconds.
    static readonly Regex MetricName = new(@"(?<![A-Za-z0-9_:])(?<!metric=~?"")moe_[a-z0-9_]*[a-z0-9]");
    static readonly Regex ClusterLatencyMetric = new(@"metric=~?""(moe_[a-z0-9_]*[a-z0-9])""");
    static readonly Regex RecordingName = new(@"(?<![A-Za-z0-9_])moe:[a-z0-9_:]*[a-z0-9_]");

    public static IEnumerable<string> Metrics(string text) => MetricName.Matches(text).Select(m => m.Value).Distinct();
    /// <summary>Histogram names used as moe_cluster_latency_seconds{metric="..."}.</summary>
    public static IEnumerable<string> ClusterLatencyMetrics(string text) =>
        ClusterLatencyMetric.Matches(text).Select(m => m.Groups[1].Value).Distinct();

    public static IEnumerable<string> Recorded(string text) => RecordingName.Matches(text).Select(m => m.Value).Distinct();

    public static HashSet<string> DefinedRecordingRules() =>
        Regex.Matches(File.ReadAllText(Repo.RecordingRules), @"^\s*-\s*record:\s*(\S+)\s*$", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToHashSet();

    public static List<string> Alerts() =>
        Regex.Matches(File.ReadAllText(Repo.AlertRules), @"^\s*-\s*alert:\s*(\S+)\s*$", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
}
