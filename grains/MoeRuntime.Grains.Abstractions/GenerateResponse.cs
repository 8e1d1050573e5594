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
}
