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
            "TTFT p50 / p90 / p99 ms", "ITL p50 / p90 / p99 ms", "reference TTFT p50 / p90 ms", "reference ITL p50 / p90 ms",
            "ITL p50 served / reference", "errors", "resumed", "expert calls / token", "wire KB / token", "wire MB/s",
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
                Pair(level.Reference?.Timeline?.TimeToFirstTokenMs),
                Pair(level.Reference?.Timeline?.InterTokenMs),
                Number(level.InterTokenRatio, "F2"),
                s is null ? "–" : s.Errors.Count == 0 ? "0" : string.Join(", ", s.Errors.Select(e => $"{e.Key} {e.Value}")),
                s?.Resumed.ToString(CultureInfo.InvariantCulture) ?? "–",
                Number(s?.ExpertCallsPerToken, "F1"),
                Number(s?.WireBytesPerToken / 1e3, "F1"),
                Number(s?.WireMegabytesPerSecond, "F1"),
                Number(s?.ExpertCallSecondsPerSecond, "F2"));
        }
        return table.Render();
    }

    /// <summary>
    /// Where each level's time went, per request on average (ms): the served clients' timestamps (gap since the client's
    /// previous request ended, send to first token, first to last token, last token to the stream's end) beside the
    /// reference's (admission into a freed batch slot, admission to first token, first to last token), then the serving
    /// rank's own clock when <c>--metrics</c> was given (queue wait, receipt to first token, receipt to last token, one
    /// prefill step, one decode step, the decode steps' mean batch). Each side's forward passes over the level
    /// (<see cref="ForwardShare"/>: milliseconds per token, the share of the level spent in them, steps) say how much of the
    /// ratio is the step's own cost and how much the loop's time outside steps.
    /// </summary>
    public static string TimelineTable(IEnumerable<LevelComparison> levels)
    {
        var table = new MarkdownTable("concurrency", "side", "requests", "gap ms", "first token ms", "first → last token ms", "tail ms", "send → next send ms",
            "ITL mean / p50 / p90 ms", "forward ms / token, busy share, steps", "rank: queue / first token / request ms", "rank: prefill / decode step ms", "rank: decode steps, mean batch", "rank: tier misses (fetch s)", "rank: GC collections (pause ms)");
        foreach (LevelComparison level in levels)
        {
            if (level.Served?.Timeline is { } s) table.Add(Row(level.Concurrency, "served", s, level.ServedForward, level.Served.Rank));
            if (level.Reference?.Timeline is { } r) table.Add(Row(level.Concurrency, "reference", r, level.ReferenceForward, null));
        }
        return table.Render();
    }

    static string[] Row(int concurrency, string side, TimelineSummary t, ForwardShare? forward, RankLevel? rank) =>
    [
        concurrency.ToString(CultureInfo.InvariantCulture), side, t.Requests.ToString(CultureInfo.InvariantCulture),
        Number(t.GapMs, "F2"), Number(t.FirstTokenMs, "F1"), Number(t.DecodeMs, "F1"), Number(t.TailMs, "F2"), Number(t.CycleMs, "F1"),
        $"{Number(t.InterTokenMeanMs, "F2")} / {Number(t.InterTokenMs.P50, "F2")} / {Number(t.InterTokenMs.P90, "F2")}",
        forward is { } f ? $"{Number(f.MsPerToken, "F3")}, {Number(f.BusyShare, "F2")}, {f.Steps}" : "–",
        rank is null ? "–" : $"{Number(rank.QueueWaitMs, "F2")} / {Number(rank.FirstTokenMs, "F1")} / {Number(rank.RequestMs, "F1")}",
        rank is null ? "–" : $"{Number(rank.PrefillStepMs, "F2")} / {Number(rank.DecodeStepMs, "F2")}",
        rank is null ? "–" : $"{rank.DecodeSteps}, {Number(rank.MeanBatch, "F1")}",
        rank is null ? "–" : $"{rank.TierMisses} ({Number(rank.TierFetchSeconds, "F2")})",
        rank is null ? "–" : $"{rank.GcCollections} ({Number(rank.GcPauseMs, "F0")})",
    ];

    static string Pair(Quantiles? q) => q is null || q.Count == 0 ? "–" : $"{q.P50:F1} / {q.P90:F1}";

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
