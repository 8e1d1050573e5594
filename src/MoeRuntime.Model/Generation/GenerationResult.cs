namespace MoeRuntime.Model.Generation;

/// <summary>The tokens one request produced, why it ended, and the seed that reproduces it.</summary>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, FinishReason Reason, ulong Seed, IReadOnlyList<float[]>? Logits)
{
    /// <summary>
    /// With <see cref="GenerationRequest.TextStop"/>: the text it still held back when the sequence ended on an
    /// end-of-sequence token (text that could have begun a stop string and did not); otherwise empty.
    /// </summary>
    public string TrailingText { get; init; } = "";
}
