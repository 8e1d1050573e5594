namespace MoeRuntime.Model.Generation;

/// <summary>The tokens one request produced, why it ended, and the seed that reproduces it.</summary>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, FinishReason Reason, ulong Seed, IReadOnlyList<float[]>? Logits);
