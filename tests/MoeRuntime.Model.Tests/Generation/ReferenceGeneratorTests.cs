using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tests.Layers;

namespace MoeRuntime.Model.Tests.Generation;

public class ReferenceGeneratorTests
{
    static readonly Model.Configuration.ModelConfig Config = TinyModelWeights.TinyConfig() with
    {
        VocabularySize = 50, HiddenSize = 32, AttentionHeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 8,
        ExpertIntermediateSize = 24, ExpertCount = 8, LayerCount = 2, MaxPositionEmbeddings = 256, EndOfSequenceTokenIds = [0],
    };

    static GenerationRequest Request(int[] prompt, SamplingOptions options) => new(prompt, options);

    [Fact]
    public void ASeededRunIsReproducible()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 1).BuildModel();
        var generator = new ReferenceGenerator(model);
        var options = new SamplingOptions { Temperature = 1.0, TopP = 0.95, Seed = 1234, MaxTokens = 40, StopTokenIds = [] };
        var first = generator.Run([Request([5, 6, 7], options)])[0];
        var second = generator.Run([Request([5, 6, 7], options)])[0];
        var otherSeed = generator.Run([Request([5, 6, 7], options with { Seed = 4321 })])[0];

        Assert.Equal(40, first.Tokens.Count);
        Assert.Equal(first.Tokens, second.Tokens);
        Assert.Equal(1234UL, first.Seed);
        Assert.NotEqual(first.Tokens, otherSeed.Tokens);
    }

    public static TheoryData<double, double, int> ResumeCases => new()
    {
        { 0.0, 1.0, 0 },
        { 1.0, 0.9, 0 },
        { 1.3, 1.0, 5 },
    };

    [Theory]
    [MemberData(nameof(ResumeCases))]
    public void AResumedRequestContinuesExactlyWhereItStopped(double temperature, double topP, int topK)
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 6).BuildModel();
        var generator = new ReferenceGenerator(model);
        var options = new SamplingOptions { Temperature = temperature, TopP = topP, TopK = topK, Seed = 555, MaxTokens = 30, StopTokenIds = [] };
        int[] prompt = [8, 2, 11, 3];
        int[] whole = generator.Run([Request(prompt, options)])[0].Tokens.ToArray();
        Assert.Equal(30, whole.Length);

        foreach (int k in new[] { 1, 13, 29 })
        {
            // Resume as the router does: the prompt plus the k tokens delivered, max tokens reduced by k.
            var resumed = generator.Run([Request([.. prompt, .. whole[..k]], options with { MaxTokens = 30 - k })])[0];
            Assert.Equal(whole[k..], resumed.Tokens);
        }
        if (temperature > 0)
            Assert.NotEqual(whole, generator.Run([Request(prompt, options with { Seed = 556 })])[0].Tokens);
    }

    [Fact]
    public void StreamingYieldsWhatABatchedRunReturns()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 2).BuildModel();
        var generator = new ReferenceGenerator(model);
        var options = new SamplingOptions { Seed = 77, MaxTokens = 25, StopTokenIds = [] };
        int[][] prompts = [[1, 2, 3], [9], [4, 4, 4, 4, 4, 4], [17, 30]];

        var batched = generator.Run(prompts.Select(p => Request(p, options)).ToArray(), maxBatch: 3);
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(generator.Stream(Request(prompts[i], options)).ToArray(), batched[i].Tokens);
    }

    [Fact]
    public void GenerationStopsAtAStopTokenOrAtMaxTokens()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 4).BuildModel();
        var generator = new ReferenceGenerator(model);
        var greedy = SamplingOptions.Greedy with { MaxTokens = 30, StopTokenIds = [] };
        int[] free = generator.Run([Request([3, 1, 4], greedy)])[0].Tokens.ToArray();

        int stop = free[4];
        var stopped = generator.Run([Request([3, 1, 4], greedy with { StopTokenIds = [stop] })])[0];
        Assert.Equal(FinishReason.Stop, stopped.Reason);
        Assert.Equal(free.TakeWhile(t => t != stop), stopped.Tokens);

        var limited = generator.Run([Request([3, 1, 4], greedy with { MaxTokens = 3 })])[0];
        Assert.Equal(FinishReason.Length, limited.Reason);
        Assert.Equal(free[..3], limited.Tokens);
    }

    [Fact]
    public void BadPromptsAreRefused()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 4).BuildModel();
        var generator = new ReferenceGenerator(model);
        Assert.Throws<ArgumentException>(() => generator.Run([Request([], SamplingOptions.Greedy)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => generator.Run([Request([3, 999], SamplingOptions.Greedy)]));
        Assert.Throws<ArgumentException>(() => generator.Run([Request(new int[300], SamplingOptions.Greedy)]));
    }
}
