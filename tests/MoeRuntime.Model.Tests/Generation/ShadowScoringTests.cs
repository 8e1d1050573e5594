using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tests.Layers;

namespace MoeRuntime.Model.Tests.Generation;

public class ShadowScoringTests
{
    static readonly Model.Configuration.ModelConfig Config = TinyModelWeights.TinyConfig() with
    {
        VocabularySize = 50, HiddenSize = 32, AttentionHeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 8,
        ExpertIntermediateSize = 24, ExpertCount = 8, LayerCount = 2, MaxPositionEmbeddings = 256, EndOfSequenceTokenIds = [0],
    };

    static readonly int[][] Prompts = [[5, 6, 7], [11, 3, 9, 20], [1, 2], [40, 41, 42, 43, 44]];

    /// <summary>What shadow evaluation does: the primary generates greedily, both models score the primary's tokens.</summary>
    static ShadowAgreement Evaluate(MoeModel primary, MoeModel candidate)
    {
        var generator = new ReferenceGenerator(primary);
        ShadowAgreement? total = null;
        foreach (int[] prompt in Prompts)
        {
            var completion = generator.Run([new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = 16, StopTokenIds = [] })])[0].Tokens;
            var a = ShadowAgreement.Compare(SequenceScore.Of(primary, prompt, completion), SequenceScore.Of(candidate, prompt, completion), completion);
            total = total is null ? a : total.Merge(a);
        }
        return total!;
    }

    [Fact]
    public void ACandidateEqualToThePrimaryAgreesFullyAndIsPromoted()
    {
        using MoeModel primary = new TinyModelWeights(Config, seed: 1).BuildModel();
        using MoeModel same = new TinyModelWeights(Config, seed: 1).BuildModel();
        ShadowAgreement a = Evaluate(primary, same);

        Assert.Equal(64, a.Tokens);
        Assert.Equal(1.0, a.GreedyAgreement);
        Assert.True(a.MeanLogProbDivergence < 1e-5, $"divergence {a.MeanLogProbDivergence}");
        Assert.All(a.RoutingAgreementPerLayer, r => Assert.Equal(1.0, r));
        Assert.Empty(new ShadowGate { MaxLatencyRatio = 100 }.Refusals(a));
    }

    [Fact]
    public void APerturbedCandidateIsRefusedWithTheBoundsItBroke()
    {
        using MoeModel primary = new TinyModelWeights(Config, seed: 1).BuildModel();
        var weights = new TinyModelWeights(Config, seed: 1);
        var noise = new Random(7);
        foreach (float[] array in weights.Arrays.Values)
            for (int i = 0; i < array.Length; i++) array[i] += (float)(noise.NextDouble() - 0.5) * 0.6f;
        using MoeModel perturbed = weights.BuildModel();
        ShadowAgreement a = Evaluate(primary, perturbed);

        Assert.True(a.GreedyAgreement < 0.98, $"greedy agreement {a.GreedyAgreement}");
        Assert.True(a.MeanLogProbDivergence > 0.05, $"divergence {a.MeanLogProbDivergence}");
        IReadOnlyList<string> refusals = new ShadowGate { MaxLatencyRatio = 100 }.Refusals(a);
        Assert.Contains(refusals, r => r.StartsWith("greedy agreement", StringComparison.Ordinal));
        Assert.Contains(refusals, r => r.StartsWith("mean log-prob divergence", StringComparison.Ordinal));
    }

    [Fact]
    public void TheGateRefusesTooLittleEvidenceAndASlowCandidate()
    {
        var a = new ShadowAgreement(10, 10, 0, 0, 12, [12, 12], PrimarySeconds: 1, CandidateSeconds: 2);
        IReadOnlyList<string> refusals = new ShadowGate().Refusals(a);
        Assert.Contains(refusals, r => r.Contains("only 10 tokens", StringComparison.Ordinal));
        Assert.Contains(refusals, r => r.Contains("2.00x", StringComparison.Ordinal));
        Assert.Equal(2, refusals.Count);
    }

    [Fact]
    public void RoutingAgreementIsPerLayerOverSortedTopKSets()
    {
        // Two positions, top-2, two layers: layer 0 equal as sets, layer 1 differs at one position.
        var primary = new SequenceScore([-1f], [4], [[0, 3, 1, 2], [5, 6, 0, 1]], 2, TimeSpan.FromSeconds(1));
        var candidate = new SequenceScore([-1.5f], [4], [[0, 3, 1, 2], [5, 6, 0, 2]], 2, TimeSpan.FromSeconds(1));
        ShadowAgreement a = ShadowAgreement.Compare(primary, candidate, [4]);
        Assert.Equal([1.0, 0.5], a.RoutingAgreementPerLayer);
        Assert.Equal(0.5, a.MeanLogProbDivergence, 6);
        Assert.Contains(new ShadowGate { MinTokens = 1 }.Refusals(a), r => r.Contains("layer 1", StringComparison.Ordinal));
    }

    [Fact]
    public void BadInputSaysWhatIsWrong()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 1).BuildModel();
        Assert.Contains("prompt", Assert.Throws<ArgumentException>(() => SequenceScore.Of(model, [], [1])).Message);
        Assert.Contains("completion", Assert.Throws<ArgumentException>(() => SequenceScore.Of(model, [1], [])).Message);
        Assert.Contains("MinGreedyAgreement", Assert.Throws<ArgumentException>(() => new ShadowGate { MinGreedyAgreement = 2 }.Validate()).Message);
    }
}
