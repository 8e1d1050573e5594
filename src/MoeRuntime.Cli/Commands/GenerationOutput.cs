using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace MoeRuntime.Cli.Commands;

/// <summary>How <c>moe generate</c> prints: streamed text, plus token ids and log-probabilities, or one JSON document.</summary>
sealed record GenerationOutputOptions(bool ShowTokenIds, int? TopLogprobs, bool Json, bool SkipBeginOfSequence)
{
    /// <summary>The prompt's ids are needed for --show-token-ids and --json.</summary>
    public bool WantsPromptIds => ShowTokenIds || Json;
}

/// <summary>One generated token as printed: id, the text it completed, and its log-probabilities when asked for.</summary>
sealed record PrintedToken(int Index, int Id, string Text, float? Logprob, IReadOnlyList<(int Id, float Logprob)>? Top);

/// <summary>
/// Collects a generation's tokens and prints them in the chosen form: text streams as it comes (not with --json);
/// token ids and log-probabilities follow the text, one token per line; --json prints one object at the end, so
/// another implementation's output can be compared without decoding text.
/// </summary>
sealed class GenerationOutput(GenerationOutputOptions options, string prompt, TextWriter stdout)
{
    readonly List<PrintedToken> _tokens = [];
    IReadOnlyList<int>? _promptIds;

    public void Prompt(IReadOnlyList<int>? ids)
    {
        _promptIds = ids;
        if (!options.Json) stdout.Write(prompt);
    }

    public void Token(PrintedToken token)
    {
        _tokens.Add(token);
        if (!options.Json) stdout.Write(token.Text);
    }

    /// <summary>Prints what streaming left: the decoder's tail, then ids / log-probabilities, or the JSON document.</summary>
    public void End(string tail, ulong? seed, string source)
    {
        if (options.Json)
        {
            WriteJson(tail, seed, source);
            return;
        }
        stdout.WriteLine(tail);
        if (options.ShowTokenIds)
        {
            stdout.WriteLine($"prompt token ids: {string.Join(' ', _promptIds ?? [])}");
            stdout.WriteLine($"generated token ids: {string.Join(' ', _tokens.Select(t => t.Id))}");
        }
        if (options.TopLogprobs is not null)
            foreach (PrintedToken t in _tokens)
            {
                string top = t.Top is { Count: > 0 } ? "  top: " + string.Join(", ", t.Top.Select(p => $"{p.Id}:{Number(p.Logprob)}")) : "";
                stdout.WriteLine($"#{t.Index} id {t.Id} logprob {(t.Logprob is { } l ? Number(l) : "-")} text {JsonSerializer.Serialize(t.Text, JsonOptions)}{top}");
            }
    }

    static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static string Number(float x) => x.ToString("R", CultureInfo.InvariantCulture);

    void WriteJson(string tail, ulong? seed, string source)
    {
        using var buffer = new MemoryStream();
        using var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("source", source);
        json.WriteString("prompt", prompt);
        json.WriteStartArray("prompt_token_ids");
        foreach (int id in _promptIds ?? []) json.WriteNumberValue(id);
        json.WriteEndArray();
        json.WriteString("text", string.Concat(_tokens.Select(t => t.Text)) + tail);
        json.WriteStartArray("token_ids");
        foreach (PrintedToken t in _tokens) json.WriteNumberValue(t.Id);
        json.WriteEndArray();
        json.WriteStartArray("tokens");
        foreach (PrintedToken t in _tokens)
        {
            json.WriteStartObject();
            json.WriteNumber("index", t.Index);
            json.WriteNumber("id", t.Id);
            json.WriteString("text", t.Text);
            if (t.Logprob is { } l) json.WriteNumber("logprob", l);
            if (t.Top is { } top)
            {
                json.WriteStartArray("top_logprobs");
                foreach (var (id, logprob) in top)
                {
                    json.WriteStartObject();
                    json.WriteNumber("id", id);
                    json.WriteNumber("logprob", logprob);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        if (seed is { } s) json.WriteNumber("seed", s);
        json.WriteEndObject();
        json.Flush();
        stdout.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }
}
