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

    /// <summary>The one heartbeat chunk.</summary>
    public static TokenChunk Heartbeat { get; } = new() { TokenId = -1, Index = -1, IsHeartbeat = true };
}

/// <summary>A candidate token of one step and its log-probability.</summary>
[GenerateSerializer, Immutable, Alias("moe.TokenLogprob")]
public sealed record TokenLogprob
{
    [Id(0)] public int TokenId { get; init; }
    [Id(1)] public float Logprob { get; init; }
}
