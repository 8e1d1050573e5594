using System.Text.Json;

namespace MoeRuntime.FrontDoor;

/// <summary>
/// A <c>/v1/completions</c> or <c>/v1/chat/completions</c> body, read by hand so that a wrong type or value is refused
/// naming the parameter. Fields it does not know are ignored, as the OpenAI API does.
/// </summary>
public sealed class OpenAiRequest
{
    public const int MaxStops = 4;

    public bool Chat { get; private init; }
    public string Model { get; private set; } = "";
    /// <summary>Completions: the prompts (a string is one prompt).</summary>
    public List<string> Prompts { get; } = [];
    /// <summary>Chat: the messages.</summary>
    public List<ChatTurn> Messages { get; } = [];
    public int? MaxTokens { get; private set; }
    public double Temperature { get; private set; } = 1.0;
    public double TopP { get; private set; } = 1.0;
    public int TopK { get; private set; }
    public ulong? Seed { get; private set; }
    public List<string> Stop { get; } = [];
    public int N { get; private set; } = 1;
    public bool Logprobs { get; private set; }
    public int TopLogprobs { get; private set; }
    public string? User { get; private set; }
    public bool Stream { get; private set; }
    public bool IncludeUsage { get; private set; }
    /// <summary>Extension (as vLLM's): keep generating past end-of-sequence tokens, up to max_tokens.</summary>
    public bool IgnoreEos { get; private set; }

    /// <summary>Reads <paramref name="body"/>; throws <see cref="OpenAiError"/> (400) naming what is wrong.</summary>
    public static OpenAiRequest Parse(ReadOnlyMemory<byte> body, bool chat)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw OpenAiError.BadRequest($"the request body is not valid JSON: {e.Message}", null, "invalid_json");
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw OpenAiError.BadRequest("the request body must be a JSON object", null, "invalid_json");
            var r = new OpenAiRequest { Chat = chat };
            r.Read(root);
            return r;
        }
    }

    void Read(JsonElement root)
    {
        bool sawMaxTokens = false;
        foreach (JsonProperty p in root.EnumerateObject())
        {
            JsonElement v = p.Value;
            switch (p.Name)
            {
                case "model":
                    Model = String(v, "model");
                    break;
                case "prompt" when !Chat:
                    ReadPrompt(v);
                    break;
                case "messages" when Chat:
                    ReadMessages(v);
                    break;
                case "max_tokens":
                case "max_completion_tokens":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    int max = Int(v, p.Name);
                    if (max < 1) throw OpenAiError.BadRequest($"{p.Name} must be at least 1 (got {max})", p.Name);
                    if (sawMaxTokens && MaxTokens != max)
                        throw OpenAiError.BadRequest("max_tokens and max_completion_tokens disagree; send one", p.Name);
                    MaxTokens = max;
                    sawMaxTokens = true;
                    break;
                case "temperature":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    Temperature = Number(v, "temperature");
                    if (Temperature is < 0 or > 2) throw OpenAiError.BadRequest($"temperature must be between 0 and 2 (got {Temperature})", "temperature");
                    break;
                case "top_p":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    TopP = Number(v, "top_p");
                    if (TopP is <= 0 or > 1) throw OpenAiError.BadRequest($"top_p must be greater than 0 and at most 1 (got {TopP})", "top_p");
                    break;
                case "top_k":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    TopK = Int(v, "top_k");
                    if (TopK < -1) throw OpenAiError.BadRequest($"top_k must be 0 or -1 (all tokens) or positive (got {TopK})", "top_k");
                    if (TopK < 0) TopK = 0;
                    break;
                case "seed":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long seed))
                        throw OpenAiError.BadRequest("seed must be an integer", "seed", "invalid_type");
                    Seed = unchecked((ulong)seed);
                    break;
                case "stop":
                    ReadStop(v);
                    break;
                case "n":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    N = Int(v, "n");
                    if (N < 1) throw OpenAiError.BadRequest($"n must be at least 1 (got {N})", "n");
                    break;
                case "logprobs":
                    ReadLogprobs(v);
                    break;
                case "top_logprobs" when Chat:
                    if (v.ValueKind == JsonValueKind.Null) break;
                    TopLogprobs = Int(v, "top_logprobs");
                    if (TopLogprobs is < 0 or > 20) throw OpenAiError.BadRequest($"top_logprobs must be between 0 and 20 (got {TopLogprobs})", "top_logprobs");
                    break;
                case "user":
                    if (v.ValueKind != JsonValueKind.Null) User = String(v, "user");
                    break;
                case "stream":
                    if (v.ValueKind != JsonValueKind.Null) Stream = Bool(v, "stream");
                    break;
                case "ignore_eos":
                    if (v.ValueKind != JsonValueKind.Null) IgnoreEos = Bool(v, "ignore_eos");
                    break;
                case "stream_options":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.Object) throw OpenAiError.BadRequest("stream_options must be an object", "stream_options", "invalid_type");
                    if (v.TryGetProperty("include_usage", out JsonElement usage) && usage.ValueKind != JsonValueKind.Null)
                        IncludeUsage = Bool(usage, "stream_options.include_usage");
                    break;
            }
        }
        if (Model.Length == 0) throw OpenAiError.BadRequest("model is required", "model", "missing_required_parameter");
        if (Chat && Messages.Count == 0) throw OpenAiError.BadRequest("messages is required and must not be empty", "messages", "missing_required_parameter");
        if (!Chat && Prompts.Count == 0) throw OpenAiError.BadRequest("prompt is required", "prompt", "missing_required_parameter");
        if (Chat && TopLogprobs > 0 && !Logprobs) throw OpenAiError.BadRequest("top_logprobs needs logprobs set to true", "top_logprobs");
        if (IncludeUsage && !Stream) throw OpenAiError.BadRequest("stream_options is only allowed when stream is true", "stream_options");
    }

    void ReadPrompt(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.String)
        {
            Prompts.Add(v.GetString()!);
            return;
        }
        if (v.ValueKind != JsonValueKind.Array) throw OpenAiError.BadRequest("prompt must be a string or an array of strings", "prompt", "invalid_type");
        int i = 0;
        foreach (JsonElement item in v.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Number || item.ValueKind == JsonValueKind.Array)
                throw OpenAiError.BadRequest("prompt as token ids is not supported; send text", "prompt", "invalid_type");
            if (item.ValueKind != JsonValueKind.String) throw OpenAiError.BadRequest($"prompt[{i}] must be a string", "prompt", "invalid_type");
            Prompts.Add(item.GetString()!);
            i++;
        }
        if (Prompts.Count == 0) throw OpenAiError.BadRequest("prompt must not be an empty array", "prompt");
    }

    void ReadMessages(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Array) throw OpenAiError.BadRequest("messages must be an array", "messages", "invalid_type");
        int i = 0;
        foreach (JsonElement m in v.EnumerateArray())
        {
            string at = $"messages[{i}]";
            if (m.ValueKind != JsonValueKind.Object) throw OpenAiError.BadRequest($"{at} must be an object", "messages", "invalid_type");
            if (!m.TryGetProperty("role", out JsonElement role) || role.ValueKind != JsonValueKind.String)
                throw OpenAiError.BadRequest($"{at}.role must be a string", "messages", "invalid_type");
            string r = role.GetString()!;
            if (r is not ("system" or "developer" or "user" or "assistant" or "tool"))
                throw OpenAiError.BadRequest($"{at}.role '{r}' is not one of system, developer, user, assistant, tool", "messages");
            string content = "";
            if (m.TryGetProperty("content", out JsonElement c))
            {
                content = c.ValueKind switch
                {
                    JsonValueKind.String => c.GetString()!,
                    JsonValueKind.Null => "",
                    JsonValueKind.Array => Parts(c, at),
                    _ => throw OpenAiError.BadRequest($"{at}.content must be a string or an array of text parts", "messages", "invalid_type"),
                };
            }
            Messages.Add(new ChatTurn(r, content));
            i++;
        }
    }

    static string Parts(JsonElement parts, string at)
    {
        var text = new System.Text.StringBuilder();
        foreach (JsonElement part in parts.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out JsonElement type) || type.ValueKind != JsonValueKind.String)
                throw OpenAiError.BadRequest($"{at}.content parts must be objects with a type", "messages", "invalid_type");
            if (type.GetString() != "text")
                throw OpenAiError.BadRequest($"{at}.content part type '{type.GetString()}' is not supported; only text", "messages");
            if (!part.TryGetProperty("text", out JsonElement t) || t.ValueKind != JsonValueKind.String)
                throw OpenAiError.BadRequest($"{at}.content text part needs a string text", "messages", "invalid_type");
            text.Append(t.GetString());
        }
        return text.ToString();
    }

    void ReadStop(JsonElement v)
    {
        switch (v.ValueKind)
        {
            case JsonValueKind.Null:
                return;
            case JsonValueKind.String:
                Stop.Add(v.GetString()!);
                break;
            case JsonValueKind.Array:
                foreach (JsonElement s in v.EnumerateArray())
                {
                    if (s.ValueKind != JsonValueKind.String) throw OpenAiError.BadRequest("stop must be a string or an array of strings", "stop", "invalid_type");
                    Stop.Add(s.GetString()!);
                }
                break;
            default:
                throw OpenAiError.BadRequest("stop must be a string or an array of strings", "stop", "invalid_type");
        }
        if (Stop.Count > MaxStops) throw OpenAiError.BadRequest($"stop may hold at most {MaxStops} sequences (got {Stop.Count})", "stop");
        if (Stop.Any(s => s.Length == 0)) throw OpenAiError.BadRequest("stop sequences must not be empty", "stop");
    }

    void ReadLogprobs(JsonElement v)
    {
        if (v.ValueKind == JsonValueKind.Null) return;
        if (Chat)
        {
            Logprobs = Bool(v, "logprobs");
            return;
        }
        // Completions: an integer, the number of alternatives (0 = only the sampled token's logprob).
        int count = Int(v, "logprobs");
        if (count is < 0 or > 5) throw OpenAiError.BadRequest($"logprobs must be between 0 and 5 (got {count})", "logprobs");
        Logprobs = true;
        TopLogprobs = count;
    }

    static string String(JsonElement v, string name) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw OpenAiError.BadRequest($"{name} must be a string", name, "invalid_type");

    static bool Bool(JsonElement v, string name) => v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw OpenAiError.BadRequest($"{name} must be a boolean", name, "invalid_type"),
    };

    static double Number(JsonElement v, string name) =>
        v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw OpenAiError.BadRequest($"{name} must be a number", name, "invalid_type");

    static int Int(JsonElement v, string name)
    {
        if (v.ValueKind != JsonValueKind.Number) throw OpenAiError.BadRequest($"{name} must be an integer", name, "invalid_type");
        if (v.TryGetInt32(out int i)) return i;
        if (v.TryGetDouble(out double d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue) return (int)d;
        throw OpenAiError.BadRequest($"{name} must be an integer", name, "invalid_type");
    }
}
