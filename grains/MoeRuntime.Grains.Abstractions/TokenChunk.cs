namespace MoeRuntime.Grains;

/// <summary>One streamed token: its id, the text it completes (may be empty mid-character), and its position.</summary>
[GenerateSerializer, Immutable, Alias("moe.TokenChunk")]
public sealed record TokenChunk
{
    [Id(0)] public int TokenId { get; init; }
    [Id(1)] public string Text { get; init; } = "";
    [Id(2)] public int Index { get; init; }
    [Id(3)] public float[]? Logits { get; init; }
}
