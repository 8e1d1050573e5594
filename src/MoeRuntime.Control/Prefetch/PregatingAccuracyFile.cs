using System.Text.Json;
using System.Text.Json.Serialization;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Control.Prefetch;

/// <summary>
/// Measured pre-gating accuracy as a file: what <c>moe prefetch --write-accuracy</c> (from the cluster's counters) and
/// <c>moe generate --local --pregating-accuracy</c> (from one process) write, and what <c>moe replay --prefetch-accuracy-file</c>
/// reads. JSON: <c>{"version":1,"source":"...","entries":[{"layer":1,"lookahead":1,"predicted":..,"actual":..,"hits":..}]}</c>.
/// </summary>
public static class PregatingAccuracyFile
{
    public const int Version = 1;

    sealed record Document(
        [property: JsonPropertyName("version")] int Version,
        [property: JsonPropertyName("source")] string? Source,
        [property: JsonPropertyName("entries")] IReadOnlyList<Entry>? Entries);

    sealed record Entry(
        [property: JsonPropertyName("layer")] int Layer,
        [property: JsonPropertyName("lookahead")] int Lookahead,
        [property: JsonPropertyName("predicted")] long Predicted,
        [property: JsonPropertyName("actual")] long Actual,
        [property: JsonPropertyName("hits")] long Hits,
        [property: JsonPropertyName("precision")] double Precision,
        [property: JsonPropertyName("recall")] double Recall);

    static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    /// <summary>The file's text for <paramref name="entries"/>; precision and recall are written for readers, and ignored on reading.</summary>
    public static string Format(IReadOnlyList<PregatingAccuracy> entries, string source) =>
        JsonSerializer.Serialize(new Document(Version, source,
            [.. entries.Select(e => new Entry(e.Layer, e.Lookahead, e.Predicted, e.Actual, e.Hits, Math.Round(e.Precision, 4), Math.Round(e.Recall, 4)))]), Options) + "\n";

    public static void Write(string path, IReadOnlyList<PregatingAccuracy> entries, string source) => File.WriteAllText(path, Format(entries, source));

    /// <summary>Reads and checks a file; a bad one is refused naming what is wrong.</summary>
    public static IReadOnlyList<PregatingAccuracy> Read(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"pre-gating accuracy file '{path}' cannot be read: {e.Message}", e);
        }
        return Parse(text, path);
    }

    public static IReadOnlyList<PregatingAccuracy> Parse(string text, string name)
    {
        Document? document;
        try
        {
            document = JsonSerializer.Deserialize<Document>(text);
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"pre-gating accuracy file '{name}' is not valid JSON: {e.Message}", e);
        }
        if (document is null) throw new ArgumentException($"pre-gating accuracy file '{name}' is empty");
        if (document.Version != Version) throw new ArgumentException($"pre-gating accuracy file '{name}' has version {document.Version}; this build reads version {Version}");
        if (document.Entries is not { Count: > 0 } entries) throw new ArgumentException($"pre-gating accuracy file '{name}' has no entries");
        var seen = new HashSet<(int, int)>();
        var result = new List<PregatingAccuracy>(entries.Count);
        foreach (Entry e in entries)
        {
            string at = $"pre-gating accuracy file '{name}', layer {e.Layer} lookahead {e.Lookahead}";
            if (e.Layer < 0) throw new ArgumentException($"{at}: the layer must not be negative");
            if (e.Lookahead < 1) throw new ArgumentException($"{at}: the lookahead must be at least 1");
            if (e.Predicted < 0 || e.Actual < 0 || e.Hits < 0) throw new ArgumentException($"{at}: counts must not be negative");
            if (e.Hits > e.Predicted || e.Hits > e.Actual) throw new ArgumentException($"{at}: {e.Hits} hits exceed the predicted ({e.Predicted}) or chosen ({e.Actual}) experts");
            if (!seen.Add((e.Layer, e.Lookahead))) throw new ArgumentException($"{at}: listed twice");
            result.Add(new PregatingAccuracy(e.Layer, e.Lookahead, e.Predicted, e.Actual, e.Hits));
        }
        return result;
    }
}
