namespace MoeRuntime.Grains;

/// <summary>A finished request.</summary>
[GenerateSerializer, Immutable, Alias("moe.GenerateResponse")]
public sealed record GenerateResponse
{
    [Id(0)] public required string RequestId { get; init; }
    [Id(1)] public required string Text { get; init; }
    [Id(2)] public required int[] TokenIds { get; init; }
    /// <summary>"stop" or "length".</summary>
    [Id(3)] public required string FinishReason { get; init; }
    [Id(4)] public int PromptTokens { get; init; }
    [Id(5)] public ulong Seed { get; init; }
    [Id(6)] public double TimeToFirstTokenMs { get; init; }
    [Id(7)] public double TotalMs { get; init; }
    [Id(8)] public float[][]? Logits { get; init; }
    /// <summary>Each token's log-probability, when the request asked for <see cref="GenerateRequest.TopLogprobs"/>.</summary>
    [Id(9)] public float[]? Logprobs { get; init; }
    /// <summary>Each step's most likely tokens, best first, when the request asked for them.</summary>
    [Id(10)] public TokenLogprob[][]? TopLogprobs { get; init; }
    /// <summary>The prompt's token ids, when the request asked for them.</summary>
    [Id(11)] public int[]? PromptTokenIds { get; init; }
}
