using System.Globalization;
using System.Text.Json;
using MoeRuntime.LoadTests;

namespace MoeRuntime.LoadGenerator;

/// <summary>The timeline as a table for the docs and as JSON for tools.</summary>
static class TimelineReport
{
    public static string Table(IEnumerable<TimelineSample> samples)
    {
        var table = new MarkdownTable("t s", "phase", "tok/s", "ITL p50 / p95 ms", "TTFT p95 ms", "errors", "hot hit ratio", "hot MiB assigned / held / limit / budget", "decisions applied");
        foreach (TimelineSample s in samples)
            table.Add(
                s.Seconds.ToString("F0", CultureInfo.InvariantCulture),
                s.Phase.ToString(CultureInfo.InvariantCulture),
                s.TokensPerSecond.ToString("F0", CultureInfo.InvariantCulture),
                $"{Ms(s.InterTokenP50Ms)} / {Ms(s.InterTokenP95Ms)}",
                Ms(s.TimeToFirstTokenP95Ms),
                s.Errors.Count == 0 ? "0" : string.Join(", ", s.Errors.Select(e => $"{e.Key} {e.Value}")),
                double.IsNaN(s.HotHitRatio) ? "–" : s.HotHitRatio.ToString("P0", CultureInfo.InvariantCulture),
                $"{s.HotAssignedMegabytes:F0} / {s.HotHeldMegabytes:F0} / {s.HotLimitMegabytes:F0} / {s.HotBudgetMegabytes:F0}" + (s.OverBudget ? " OVER" : ""),
                s.Decisions.Count == 0 ? "–" : string.Join(", ", s.Decisions.OrderBy(d => d.Key).Select(d => $"{d.Key} {d.Value}")));
        return table.Render();
    }

    public static void WriteJson(string path, LoadOptions options, IReadOnlyList<TimelineSample> samples) =>
        File.WriteAllText(path, JsonSerializer.Serialize(new
        {
            Concurrency = options.Concurrency[0],
            options.MaxTokens,
            SampleEverySeconds = options.SampleEvery.TotalSeconds,
            Phases = options.Phases.Select(p => new { Prompts = p.PromptsPath ?? "builtin", Seconds = p.Duration.TotalSeconds }),
            Samples = samples,
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));

    static string Ms(double value) => double.IsNaN(value) ? "–" : value.ToString("F0", CultureInfo.InvariantCulture);
}
