using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Model.Wire;
using Xunit;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Wire;

/// <summary>The built-in model's greedy runs with experts behind the wire codec (deterministic: no timing).</summary>
public sealed class WireAccuracyTests : IClassFixture<WireAccuracyTests.BuiltIn>
{
    public sealed class BuiltIn : IDisposable
    {
        readonly InMemoryTensorSource _source;

        public BuiltIn()
        {
            var recipe = new DefaultModelRecipe();
            _source = DefaultModelWeights.Generate(recipe);
            Model = MoeModelAssembler.Assemble(recipe.Config, _source, CPU);
        }

        public MoeModel Model { get; }

        public void Dispose()
        {
            Model.Dispose();
            _source.Dispose();
        }
    }

    static readonly string[] Prompts = ["The quick brown fox", "Once upon a time", "0123456789"];
    readonly MoeModel _model;
    readonly ByteLevelTokenizer _tokenizer = new();

    public WireAccuracyTests(BuiltIn builtIn) => _model = builtIn.Model;

    [Fact]
    public async Task Float32OnTheWireIsTheReference()
    {
        foreach (string prompt in Prompts)
        {
            IReadOnlyList<int> tokens = _tokenizer.Encode(prompt);
            GenerationResult expected = new ReferenceGenerator(_model).Run(
                [new GenerationRequest(tokens, SamplingOptions.Greedy with { MaxTokens = 16, StopTokenIds = [] })])[0];
            GenerationResult actual = await WireAccuracy.GreedyAsync(_model, tokens, 16, WireFormat.Float32);
            Assert.Equal(expected.Tokens, actual.Tokens);
            Assert.Equal(0, WireAccuracy.Compare(actual, actual).MaxLogitError);
        }
    }

    [Theory]
    [InlineData(WireFormat.Float16)]
    [InlineData(WireFormat.BFloat16)]
    public async Task HalfFormatsKeepTheGreedyTokensOfShortRuns(WireFormat format)
    {
        foreach (string prompt in Prompts)
        {
            IReadOnlyList<int> tokens = _tokenizer.Encode(prompt);
            GenerationResult float32 = await WireAccuracy.GreedyAsync(_model, tokens, 8, WireFormat.Float32);
            WireAgreement agreement = WireAccuracy.Compare(float32, await WireAccuracy.GreedyAsync(_model, tokens, 8, format));
            Assert.True(agreement.Identical, $"{format} on '{prompt}': {agreement}");
            Assert.True(agreement.MaxLogitError > 0, $"{format} changed no logit: the rows did not go through the codec");
        }
    }

    [Fact]
    public void KullbackLeiblerIsZeroForEqualLogitsAndPositiveOtherwise()
    {
        float[] p = [1, 2, 3], shifted = [11, 12, 13], other = [3, 2, 1];
        Assert.Equal(0, WireAccuracy.KullbackLeibler(p, shifted), 12);
        Assert.True(WireAccuracy.KullbackLeibler(p, other) > 0.5);
        Assert.Throws<ArgumentException>(() => WireAccuracy.KullbackLeibler(p, [1, 2]));
    }
}
