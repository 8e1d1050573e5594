using MoeRuntime.Model;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using static TorchSharp.torch;

namespace MoeRuntime.Integration.Tests;

/// <summary>Greedy answers of the single-process reference generator over the cluster's checkpoint.</summary>
static class ReferenceAnswers
{
    /// <summary>The token ids each prompt continues with, exactly <paramref name="maxTokens"/> of them (no stop tokens).</summary>
    public static IReadOnlyList<int>[] Greedy(string modelDirectory, IReadOnlyList<string> prompts, int maxTokens)
    {
        return Generate(modelDirectory, prompts, SamplingOptions.Greedy with { MaxTokens = maxTokens, StopTokenIds = [] });
    }

    /// <summary>The token ids each prompt continues with under <paramref name="options"/> (seeded, so reproducible).</summary>
    public static IReadOnlyList<int>[] Generate(string modelDirectory, IReadOnlyList<string> prompts, SamplingOptions options)
    {
        using MoeModel model = ModelLoader.Load(modelDirectory, CPU);
        ITextTokenizer tokenizer = TokenizerLoader.Load(modelDirectory);
        var requests = prompts.Select(p => new GenerationRequest(tokenizer.Encode(p), options)).ToArray();
        return new ReferenceGenerator(model).Run(requests, maxBatch: requests.Length).Select(r => r.Tokens).ToArray();
    }
}
