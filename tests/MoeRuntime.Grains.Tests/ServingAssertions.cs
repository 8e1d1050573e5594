using MoeRuntime.Model.Generation;

namespace MoeRuntime.Grains.Tests;

static class ServingAssertions
{
    /// <summary>A greedy request that runs to <paramref name="maxTokens"/> (no stop token) and returns its logits, to compare with the reference.</summary>
    public static GenerateRequest GreedyWithLogits(string prompt, int maxTokens) => new()
    {
        Prompt = prompt,
        Sampling = SamplingParameters.Greedy(maxTokens) with { StopTokenIds = [] },
        IncludeLogits = true,
    };

    /// <summary>Same tokens as the reference, and every step's logits within 1e-4.</summary>
    public static void MatchesReference(GenerationResult expected, GenerateResponse actual)
    {
        Assert.Equal(expected.Tokens, actual.TokenIds);
        Assert.NotNull(actual.Logits);
        Assert.Equal(expected.Logits!.Count, actual.Logits!.Length);
        float worst = 0;
        for (int step = 0; step < actual.Logits.Length; step++)
            for (int v = 0; v < actual.Logits[step].Length; v++)
                worst = Math.Max(worst, Math.Abs(expected.Logits[step][v] - actual.Logits[step][v]));
        Assert.True(worst < 1e-4, $"largest logit difference {worst}");
    }
}
