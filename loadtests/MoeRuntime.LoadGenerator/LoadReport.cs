using MoeRuntime.LoadTests;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace MoeRuntime.LoadGenerator;

/// <summary>The run's numbers as a table for people and as JSON for tools.</summary>
static class LoadReport
{
    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // An empty level has no quantiles; NaN says so rather than a made-up zero.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static string Table(IEnumerable<LevelComparison> levels)
    {
        var table = new MarkdownTable("concurrency", "served tok/s", "reference tok/s", "served / reference", "served req/s",
            "TTFT p50 / p90 / p99 ms", "ITL p50 / p90 / p99 ms", "errors", "resumed", "expert calls / token", "wire KB / token", "wire MB/s",
            "expert-call s / s");
        foreach (LevelComparison level in levels)
        {
            ServedLevel? s = level.Served;
            table.Add(
                level.Concurrency.ToString(CultureInfo.InvariantCulture),
                Number(s?.TokensPerSecond, "F1"),
                Number(level.Reference?.TokensPerSecond, "F1"),
                Number(level.Ratio, "F2"),
                Number(s?.RequestsPerSecond, "F2"),
                s?.TimeToFirstTokenMs.Format() ?? "–",
                s?.InterTokenMs.Format() ?? "–",
                s is null ? "–" : s.Errors.Count == 0 ? "0" : string.Join(", ", s.Errors.Select(e => $"{e.Key} {e.Value}")),
                s?.Resumed.ToString(CultureInfo.InvariantCulture) ?? "–",
                Number(s?.ExpertCallsPerToken, "F1"),
                Number(s?.WireBytesPerToken / 1e3, "F1"),
                Number(s?.WireMegabytesPerSecond, "F1"),
                Number(s?.ExpertCallSecondsPerSecond, "F2"));
        }
        return table.Render();
    }

    public static void WriteJson(string path, LoadOptions options, IReadOnlyList<LevelComparison> levels)
    {
        var document = new
        {
            options.MaxTokens,
            options.Temperature,
            options.RequestsPerClient,
            DurationSeconds = options.Duration?.TotalSeconds,
            options.Cluster.Clustering,
            LogicalCores = Environment.ProcessorCount,
            Levels = levels,
        };
        File.WriteAllText(path, JsonSerializer.Serialize(document, Json));
    }

    static string Number(double? value, string format) => value?.ToString(format, CultureInfo.InvariantCulture) ?? "–";
}
