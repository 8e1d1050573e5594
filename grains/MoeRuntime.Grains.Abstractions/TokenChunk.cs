namespace MoeRuntime.Grains;

/// <summary>One streamed token: its id, the text it completes (may be empty mid-character), and its position.</summary>
[GenerateSerializer, Immutable, Alias("moe.TokenChunk")]
public sealed record TokenChunk
{
    [Id(0)] public int TokenId { get; init; }
    [Id(1)] public string Text { get; init; } = "";
    [Id(2)] public int Index { get; init; }
    [Id(3)] public float[]? Logits { get; init; }
    /// <summary>The token's log-probability when the request asked for <see cref="GenerateRequest.TopLogprobs"/>.</summary>
    [Id(4)] public float? Logprob { get; init; }
    /// <summary>The most likely tokens of this step, best first, when the request asked for them.</summary>
    [Id(5)] public TokenLogprob[]? TopLogprobs { get; init; }
    /// <summary>The prompt's token ids, on the first chunk only, when the request asked for them.</summary>
    [Id(6)] public int[]? PromptTokenIds { get; init; }
    /// <summary>
    /// No token: the rank is alive and the request still running (sent only when the request asked for
    /// <see cref="GenerateRequest.HeartbeatInterval"/>). Its other fields carry nothing.
    /// </summary>
    [Id(7)] public bool IsHeartbeat { get; init; }
    /// <summary>
    /// Why generation ended (<c>stop</c>: a stop string or an end-of-sequence token; <c>length</c>: max tokens or the
    /// context), on the stream's last chunk; null on every other. A stream that ends on an end-of-sequence token (which
    /// is not sent) has no chunk that says so, unless it is a request with <see cref="GenerateRequest.StopStrings"/>:
    /// then it ends with a chunk carrying no token (<see cref="IsTrailer"/>) with <c>stop</c> and the text held back.
    /// </summary>
    [Id(8)] public string? FinishReason { get; init; }
    /// <summary>
    /// No token (<see cref="TokenId"/> and <see cref="Index"/> are -1): the last chunk of a request with
    /// <see cref="GenerateRequest.StopStrings"/> that ended on an end-of-sequence token, carrying the text held back
    /// because it could have begun a stop string.
    /// </summary>
    [Id(9)] public bool IsTrailer { get; init; }

    /// <summary>Whether the chunk carries a generated token (it is neither a heartbeat nor a trailer).</summary>
    public bool HasToken => !IsHeartbeat && !IsTrailer;

    /// <summary>The one heartbeat chunk.</summary>
    public static TokenChunk Heartbeat { get; } = new() { TokenId = -1, Index = -1, IsHeartbeat = true };

    /// <summary>The last chunk of a request with stop strings that ended on an end-of-sequence token.</summary>
    public static TokenChunk Trailer(string text) => new() { TokenId = -1, Index = -1, Text = text, FinishReason = "stop", IsTrailer = true };
}

/// <summary>A candidate token of one step and its log-probability.</summary>
[GenerateSerializer, Immutable, Alias("moe.TokenLogprob")]
public sealed record TokenLogprob
{
    [Id(0)] public int TokenId { get; init; }
    [Id(1)] public float Logprob { get; init; }
}
