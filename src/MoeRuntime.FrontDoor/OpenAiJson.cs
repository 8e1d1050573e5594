using System.Buffers;
using System.Text;
using System.Text.Json;

namespace MoeRuntime.FrontDoor;

/// <summary>Writes the OpenAI response shapes with a <see cref="Utf8JsonWriter"/> onto a reused buffer.</summary>
sealed class OpenAiJson
{
    static readonly JsonWriterOptions Options = new() { Indented = false, SkipValidation = true };

    readonly ArrayBufferWriter<byte> _buffer = new(1024);
    readonly Utf8JsonWriter _json;

    public OpenAiJson()
    {
        _json = new Utf8JsonWriter(_buffer, Options);
    }

    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    Utf8JsonWriter Start()
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        return _json;
    }

    public ReadOnlyMemory<byte> Error(OpenAiError e)
    {
        Utf8JsonWriter w = Start();
        w.WriteStartObject();
        w.WriteStartObject("error");
        w.WriteString("message", e.Message);
        w.WriteString("type", e.Type);
        if (e.Param is null) w.WriteNull("param"); else w.WriteString("param", e.Param);
        if (e.Code is null) w.WriteNull("code"); else w.WriteString("code", e.Code);
        w.WriteEndObject();
        w.WriteEndObject();
        w.Flush();
        return Written;
    }

    public ReadOnlyMemory<byte> Models(IReadOnlyList<ServedModel> models, long created)
    {
        Utf8JsonWriter w = Start();
        w.WriteStartObject();
        w.WriteString("object", "list");
        w.WriteStartArray("data");
        foreach (ServedModel m in models)
        {
            w.WriteStartObject();
            w.WriteString("id", m.Id);
            w.WriteString("object", "model");
            w.WriteNumber("created", created);
            w.WriteString("owned_by", "moeruntime");
            w.WriteNumber("context_length", m.ContextLength);
            w.WriteNumber("max_model_len", m.ContextLength);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();
        return Written;
    }

    /// <summary>A whole (non-streamed) response.</summary>
    public ReadOnlyMemory<byte> Response(ResponseHeader h, IReadOnlyList<ChoiceResult> choices, Usage usage)
    {
        Utf8JsonWriter w = Start();
        Open(w, h, streamed: false);
        w.WriteStartArray("choices");
        foreach (ChoiceResult c in choices)
        {
            w.WriteStartObject();
            w.WriteNumber("index", c.Index);
            if (h.Chat)
            {
                w.WriteStartObject("message");
                w.WriteString("role", "assistant");
                w.WriteString("content", c.Text);
                w.WriteNull("refusal");
                w.WriteEndObject();
            }
            else w.WriteString("text", c.Text);
            WriteLogprobs(w, h.Chat, c.Logprobs, textOffset: 0);
            w.WriteString("finish_reason", c.FinishReason);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        WriteUsage(w, usage);
        w.WriteEndObject();
        w.Flush();
        return Written;
    }

    /// <summary>One streamed chunk for one choice: its text (or the assistant role first), its logprobs, or how it finished.</summary>
    public ReadOnlyMemory<byte> Chunk(ResponseHeader h, int index, string? text, IReadOnlyList<LogprobEntry>? logprobs, int textOffset,
        string? finishReason, bool role = false)
    {
        Utf8JsonWriter w = Start();
        Open(w, h, streamed: true);
        w.WriteStartArray("choices");
        w.WriteStartObject();
        w.WriteNumber("index", index);
        if (h.Chat)
        {
            w.WriteStartObject("delta");
            if (role)
            {
                w.WriteString("role", "assistant");
                w.WriteString("content", "");
            }
            else if (text is not null) w.WriteString("content", text);
            w.WriteEndObject();
        }
        else w.WriteString("text", text ?? "");
        WriteLogprobs(w, h.Chat, logprobs, textOffset);
        if (finishReason is null) w.WriteNull("finish_reason"); else w.WriteString("finish_reason", finishReason);
        w.WriteEndObject();
        w.WriteEndArray();
        if (h.IncludeUsage) w.WriteNull("usage");
        w.WriteEndObject();
        w.Flush();
        return Written;
    }

    /// <summary>The last chunk of a stream that asked for usage: no choices, the totals.</summary>
    public ReadOnlyMemory<byte> UsageChunk(ResponseHeader h, Usage usage)
    {
        Utf8JsonWriter w = Start();
        Open(w, h, streamed: true);
        w.WriteStartArray("choices");
        w.WriteEndArray();
        WriteUsage(w, usage);
        w.WriteEndObject();
        w.Flush();
        return Written;
    }

    static void Open(Utf8JsonWriter w, ResponseHeader h, bool streamed)
    {
        w.WriteStartObject();
        w.WriteString("id", h.Id);
        w.WriteString("object", h.Chat ? streamed ? "chat.completion.chunk" : "chat.completion" : "text_completion");
        w.WriteNumber("created", h.Created);
        w.WriteString("model", h.Model);
        w.WriteNull("system_fingerprint");
    }

    static void WriteUsage(Utf8JsonWriter w, Usage usage)
    {
        w.WriteStartObject("usage");
        w.WriteNumber("prompt_tokens", usage.PromptTokens);
        w.WriteNumber("completion_tokens", usage.CompletionTokens);
        w.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
        w.WriteEndObject();
    }

    static void WriteLogprobs(Utf8JsonWriter w, bool chat, IReadOnlyList<LogprobEntry>? logprobs, int textOffset)
    {
        if (logprobs is null)
        {
            w.WriteNull("logprobs");
            return;
        }
        w.WriteStartObject("logprobs");
        if (chat)
        {
            w.WriteStartArray("content");
            foreach (LogprobEntry e in logprobs)
            {
                w.WriteStartObject();
                WriteToken(w, e.Token, e.Logprob);
                w.WriteStartArray("top_logprobs");
                foreach (TokenAlternative a in e.TopLogprobs)
                {
                    w.WriteStartObject();
                    WriteToken(w, a.Token, a.Logprob);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("refusal");
        }
        else
        {
            w.WriteStartArray("tokens");
            foreach (LogprobEntry e in logprobs) w.WriteStringValue(e.Token);
            w.WriteEndArray();
            w.WriteStartArray("token_logprobs");
            foreach (LogprobEntry e in logprobs) w.WriteNumberValue(e.Logprob);
            w.WriteEndArray();
            w.WriteStartArray("top_logprobs");
            foreach (LogprobEntry e in logprobs)
            {
                w.WriteStartObject();
                foreach (TokenAlternative a in e.TopLogprobs) w.WriteNumber(a.Token, a.Logprob);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("text_offset");
            int offset = textOffset;
            foreach (LogprobEntry e in logprobs)
            {
                w.WriteNumberValue(offset);
                offset += e.Token.Length;
            }
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    static void WriteToken(Utf8JsonWriter w, string token, float logprob)
    {
        w.WriteString("token", token);
        w.WriteNumber("logprob", logprob);
        w.WriteStartArray("bytes");
        foreach (byte b in Encoding.UTF8.GetBytes(token)) w.WriteNumberValue(b);
        w.WriteEndArray();
    }
}

/// <summary>What every chunk of one response repeats.</summary>
sealed record ResponseHeader(string Id, bool Chat, long Created, string Model, bool IncludeUsage);

/// <summary>Token counts of one response.</summary>
readonly record struct Usage(int PromptTokens, int CompletionTokens);
