namespace MoeRuntime.Model.Sampling;

/// <summary>
/// How one request picks its next tokens. Temperature 0 is greedy; otherwise logits are divided by
/// the temperature, cut to the <see cref="TopK"/> best and the smallest set reaching
/// <see cref="TopP"/> of the probability, and sampled with a generator seeded by <see cref="Seed"/>.
/// </summary>
public sealed record SamplingOptions
{
    public const int DefaultMaxTokens = 128;

    public double Temperature { get; init; } = 1.0;
    /// <summary>0 keeps every token.</summary>
    public int TopK { get; init; }
    /// <summary>1 keeps every token.</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Fixes the random stream; null draws a fresh seed.</summary>
    public ulong? Seed { get; init; }
    public int MaxTokens { get; init; } = DefaultMaxTokens;
    /// <summary>Tokens that end generation; null means the model's end-of-sequence tokens.</summary>
    public IReadOnlyList<int>? StopTokenIds { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public bool IsGreedy => Temperature == 0 || TopK == 1;

    /// <summary>Throws <see cref="ArgumentException"/> naming every invalid value.</summary>
    public void Validate(int vocabularySize)
    {
        var problems = new List<string>();
        if (!double.IsFinite(Temperature) || Temperature < 0) problems.Add($"temperature must be finite and >= 0 (is {Temperature})");
        if (TopK < 0 || TopK > vocabularySize) problems.Add($"top_k must lie in [0, {vocabularySize}] (is {TopK})");
        if (!(TopP > 0 && TopP <= 1)) problems.Add($"top_p must lie in (0, 1] (is {TopP})");
        if (MaxTokens < 1) problems.Add($"max_tokens must be at least 1 (is {MaxTokens})");
        // Named by index, never by id: token ids are the client's content and failure logs keep this message.
        IReadOnlyList<int> stops = StopTokenIds ?? [];
        for (int i = 0; i < stops.Count; i++)
            if ((uint)stops[i] >= (uint)vocabularySize) problems.Add($"stop token at index {i} lies outside the vocabulary of {vocabularySize}");
        if (problems.Count > 0) throw new ArgumentException("invalid sampling options: " + string.Join("; ", problems));
    }
}
