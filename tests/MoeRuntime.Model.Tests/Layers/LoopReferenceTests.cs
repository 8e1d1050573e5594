using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>The TorchSharp decoder against the same model written as plain loops (no TorchSharp).</summary>
public class LoopReferenceTests
{
    static readonly int[] Sequence = [3, 7, 0, 15, 9, 2, 2, 11];

    [Theory]
    [InlineData(ModelArchitecture.Mixtral)]
    [InlineData(ModelArchitecture.Qwen2Moe)]
    [InlineData(ModelArchitecture.Olmoe)]
    public void LogitsOfEveryPositionMatchTheLoopReference(ModelArchitecture architecture)
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(architecture), seed: 7);
        double[][] expected = new LoopReference(weights).Logits(Sequence);

        using MoeModel model = weights.BuildModel();
        using KvCache cache = model.CreateCache();
        using var scope = NewDisposeScope();
        float[] actual = model.Forward([new SequenceStep(cache, Sequence)], allPositions: true).data<float>().ToArray();

        int vocabulary = weights.Config.VocabularySize;
        Assert.Equal(Sequence.Length * vocabulary, actual.Length);
        for (int t = 0; t < Sequence.Length; t++)
            for (int v = 0; v < vocabulary; v++)
                Assert.True(Math.Abs(expected[t][v] - actual[t * vocabulary + v]) < 1e-5,
                    $"position {t}, token {v}: loops {expected[t][v]}, TorchSharp {actual[t * vocabulary + v]}");
    }

    [Theory]
    [InlineData(ModelArchitecture.Mixtral)]
    [InlineData(ModelArchitecture.Qwen2Moe)]
    public void RouterTopKAndWeightsMatchTheLoopReference(ModelArchitecture architecture)
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(architecture), seed: 11);
        var expected = new List<(int[] Experts, double[] Weights)[]>();
        new LoopReference(weights).Logits(Sequence, expected);

        using MoeModel model = weights.BuildModel();
        using KvCache cache = model.CreateCache();
        using var scope = NewDisposeScope();
        var observed = new List<(int[] Experts, float[] Weights)[]>();
        model.Forward([new SequenceStep(cache, Sequence)], observe: (layer, plan) =>
        {
            var perToken = new (int[], float[])[plan.TokenCount];
            for (int t = 0; t < plan.TokenCount; t++)
                perToken[t] = (plan.ChosenExperts.Skip(t * plan.TopK).Take(plan.TopK).ToArray(), new float[plan.TopK]);
            foreach (int e in plan.ActiveExperts())
            {
                long[] tokens = plan.TokenIndices(e).data<long>().ToArray();
                float[] w = plan.Weights(e).data<float>().ToArray();
                for (int i = 0; i < tokens.Length; i++)
                    perToken[tokens[i]].Item2[Array.IndexOf(perToken[tokens[i]].Item1, e)] = w[i];
            }
            observed.Add(perToken);
        });

        Assert.Equal(weights.Config.LayerCount, observed.Count);
        for (int l = 0; l < expected.Count; l++)
            for (int t = 0; t < Sequence.Length; t++)
            {
                Assert.Equal(expected[l][t].Experts, observed[l][t].Experts);
                for (int s = 0; s < expected[l][t].Weights.Length; s++)
                    Assert.True(Math.Abs(expected[l][t].Weights[s] - observed[l][t].Weights[s]) < 1e-5,
                        $"layer {l} token {t} slot {s}: {expected[l][t].Weights[s]} vs {observed[l][t].Weights[s]}");
                if (weights.Config.NormalizeTopKProbabilities)
                    Assert.Equal(1.0, observed[l][t].Weights.Sum(), 5);
            }
    }
}
