using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tests.Layers;
using MoeRuntime.Model.Tokenization;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Tests.Architectures;

/// <summary>
/// A cluster serving a tiny checkpoint of one architecture in one of the config forms issue 13 is about (written with
/// the byte-level tokenizer and a vocabulary padded past it), compared with the local path on the same files.
/// </summary>
public abstract class ArchitectureFixture(int ranks, ModelConfig config) : ClusterFixture(ranks)
{
    public ModelConfig Config { get; } = config with
    {
        VocabularySize = 300,
        TokenizerClass = nameof(ByteLevelTokenizer),
        BeginOfSequenceTokenId = ByteLevelTokenizer.BeginOfSequenceTokenId,
        EndOfSequenceTokenIds = [ByteLevelTokenizer.EndOfSequenceTokenId],
        MaxPositionEmbeddings = config.MaxPositionEmbeddings,
    };

    protected override void PrepareModel(string directory)
    {
        var weights = new TinyModelWeights(Config, seed: 1313);
        using InMemoryTensorSource source = weights.ToSource();
        SafetensorsWriter.WriteSharded(directory, source.Tensors, maxShardBytes: 64 * 1024);
        ModelConfigJson.Save(Config, directory);
    }

    protected override void Configure(MoeSiloOptions options)
    {
        options.HotBudgetBytes = 1L << 20;
        options.WarmBudgetBytes = 4L << 20;
    }
}

static class Forms
{
    static ModelConfig Tiny(ModelArchitecture a) => TinyModelWeights.TinyConfig(a) with { MaxPositionEmbeddings = 64 };

    public static ModelConfig Qwen3 => Tiny(ModelArchitecture.Qwen3Moe) with { HeadDimension = 6, AttentionBias = true, OutputBias = true };
    /// <summary>Decoding runs past both the sliding window and the dynamic rope's trained length.</summary>
    public static ModelConfig MixtralWindowDynamic => Tiny(ModelArchitecture.Mixtral) with
    {
        SlidingWindow = 5, MaxPositionEmbeddings = 16, RopeScaling = new RopeScaling(RopeScalingType.Dynamic, 3),
    };
    public static ModelConfig OlmoeBiasClip => Tiny(ModelArchitecture.Olmoe) with { AttentionBias = true, OutputBias = true, ClipQkv = 0.4 };
    public static ModelConfig Qwen2LinearRope => Tiny(ModelArchitecture.Qwen2Moe) with { RopeScaling = new RopeScaling(RopeScalingType.Linear, 2) };
}

public sealed class Qwen3OneRankFixture() : ArchitectureFixture(1, Forms.Qwen3);
public sealed class Qwen3ThreeRankFixture() : ArchitectureFixture(3, Forms.Qwen3);
public sealed class MixtralWindowOneRankFixture() : ArchitectureFixture(1, Forms.MixtralWindowDynamic);
public sealed class MixtralWindowThreeRankFixture() : ArchitectureFixture(3, Forms.MixtralWindowDynamic);
public sealed class OlmoeThreeRankFixture() : ArchitectureFixture(3, Forms.OlmoeBiasClip);
public sealed class Qwen2ThreeRankFixture() : ArchitectureFixture(3, Forms.Qwen2LinearRope);

/// <summary>The served path (router grains, experts in expert grains) equals the local path on each fixture's checkpoint.</summary>
public abstract class ArchitectureServingTests(ArchitectureFixture fixture)
{
    // 11 prompt tokens (BOS + 10 bytes) and 30 new ones: past the window and the trained length of the Mixtral form.
    const string Prompt = "experts:42";
    const int NewTokens = 30;

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    [Fact]
    public async Task GreedyTokensAndLogitsEqualTheLocalPath()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = NewTokens, StopTokenIds = [] });
        GenerateResponse actual = await Router.GenerateAsync(new GenerateRequest
        {
            Prompt = Prompt,
            Sampling = SamplingParameters.Greedy(NewTokens) with { StopTokenIds = [] },
            IncludeLogits = true,
            TopLogprobs = 0,
        });
        ServingAssertions.MatchesReference(expected, actual);
        Assert.Equal(NewTokens, actual.Logprobs!.Length);
        Assert.All(actual.TopLogprobs!, top => Assert.Empty(top));
        for (int i = 0; i < NewTokens; i++)
            Assert.Equal(TokenLogprobs.Compute(expected.Logits![i], expected.Tokens[i], 0).Chosen, actual.Logprobs[i], 4);
    }

    [Fact]
    public async Task StreamedLogprobsPromptIdsAndNoBosEqualTheLocalPath()
    {
        IReadOnlyList<int> prompt = fixture.Tokenizer.Encode(Prompt, addBeginOfSequence: false);
        var request = new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = 12, StopTokenIds = [] }) { TopLogprobs = 3 };
        StreamedToken[] expected = new ReferenceGenerator(fixture.Reference).StreamTokens(request).ToArray();

        var chunks = new List<TokenChunk>();
        await foreach (TokenChunk chunk in Router.StreamAsync(new GenerateRequest
        {
            Prompt = Prompt,
            Sampling = SamplingParameters.Greedy(12) with { StopTokenIds = [] },
            SkipBeginOfSequence = true,
            TopLogprobs = 3,
            IncludePromptTokenIds = true,
        }))
            chunks.Add(chunk);

        Assert.Equal(prompt, chunks[0].PromptTokenIds);
        Assert.All(chunks.Skip(1), c => Assert.Null(c.PromptTokenIds));
        Assert.Equal(expected.Select(t => t.Id), chunks.Select(c => c.TokenId));
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i].Logprobs!.Chosen - chunks[i].Logprob!.Value) < 1e-4, $"token {i}: logprob {expected[i].Logprobs!.Chosen} vs {chunks[i].Logprob}");
            Assert.Equal(expected[i].Logprobs!.Top.Select(t => t.Id), chunks[i].TopLogprobs!.Select(t => t.TokenId));
        }
    }
}

public sealed class Qwen3OneRankServingTests(Qwen3OneRankFixture f) : ArchitectureServingTests(f), IClassFixture<Qwen3OneRankFixture>;
public sealed class Qwen3ThreeRankServingTests(Qwen3ThreeRankFixture f) : ArchitectureServingTests(f), IClassFixture<Qwen3ThreeRankFixture>;
public sealed class MixtralWindowOneRankServingTests(MixtralWindowOneRankFixture f) : ArchitectureServingTests(f), IClassFixture<MixtralWindowOneRankFixture>;
public sealed class MixtralWindowThreeRankServingTests(MixtralWindowThreeRankFixture f) : ArchitectureServingTests(f), IClassFixture<MixtralWindowThreeRankFixture>;
public sealed class OlmoeThreeRankServingTests(OlmoeThreeRankFixture f) : ArchitectureServingTests(f), IClassFixture<OlmoeThreeRankFixture>;
public sealed class Qwen2ThreeRankServingTests(Qwen2ThreeRankFixture f) : ArchitectureServingTests(f), IClassFixture<Qwen2ThreeRankFixture>;
