namespace MoeRuntime.Grains;

/// <summary>How a request samples its tokens (see the model library's SamplingOptions for the meaning).</summary>
[GenerateSerializer, Immutable, Alias("moe.SamplingParameters")]
public sealed record SamplingParameters
{
    /// <summary>0 is greedy.</summary>
    [Id(0)] public double Temperature { get; init; } = 1.0;
    [Id(1)] public double TopP { get; init; } = 1.0;
    /// <summary>0 keeps every token.</summary>
    [Id(2)] public int TopK { get; init; }
    /// <summary>Null draws a seed; the response reports it.</summary>
    [Id(3)] public ulong? Seed { get; init; }
    [Id(4)] public int MaxTokens { get; init; } = 128;
    /// <summary>Null means the model's end-of-sequence tokens.</summary>
    [Id(5)] public int[]? StopTokenIds { get; init; }

    public static SamplingParameters Greedy(int maxTokens) => new() { Temperature = 0, MaxTokens = maxTokens };
}
