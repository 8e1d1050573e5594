using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>Incremental decoding through the cache must equal recomputing the whole sequence.</summary>
public class KvCacheTests
{
    static readonly ModelConfig Config = TinyModelWeights.TinyConfig() with
    {
        VocabularySize = 40, HiddenSize = 32, AttentionHeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 8,
        ExpertIntermediateSize = 24, ExpertCount = 6, LayerCount = 3, MaxPositionEmbeddings = 128,
    };

    static readonly int[] Tokens = Enumerable.Range(0, 40).Select(i => (i * 17 + 3) % 40).ToArray();

    [Fact]
    public void TokenByTokenDecodingEqualsRecomputingTheWholeSequence()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 3, scale: 0.3f).BuildModel();
        float[] full = AllLogits(model, [Tokens]);
        float[] incremental = AllLogits(model, Tokens.Select(t => new[] { t }).ToArray());
        AssertClose(full, incremental);
    }

    [Fact]
    public void PrefillInChunksAfterACachedPrefixEqualsOnePrefill()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 5, scale: 0.3f).BuildModel();
        float[] full = AllLogits(model, [Tokens]);
        float[] chunked = AllLogits(model, [Tokens[..9], Tokens[9..10], Tokens[10..31], Tokens[31..]]);
        AssertClose(full, chunked);
    }

    [Fact]
    public void SequencesOfDifferentLengthsInOneBatchDoNotSeeEachOther()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 9, scale: 0.3f).BuildModel();
        int[] other = [5, 1, 4];
        float[] alone = AllLogits(model, [Tokens[..12], Tokens[12..13]]);

        using KvCache a = model.CreateCache(), b = model.CreateCache();
        using var scope = NewDisposeScope();
        var first = model.Forward([new SequenceStep(a, Tokens[..12]), new SequenceStep(b, other)], allPositions: true);
        var second = model.Forward([new SequenceStep(b, new[] { 7 }), new SequenceStep(a, Tokens[12..13])], allPositions: true);
        int v = Config.VocabularySize;
        float[] batched = first.narrow(0, 0, 12).data<float>().Concat(second.narrow(0, 1, 1).data<float>()).ToArray();
        AssertClose(alone, batched);
        Assert.Equal(13, a.Length);
        Assert.Equal(4, b.Length);
        Assert.True(a.Bytes > 0);
        Assert.Equal(13 * v, batched.Length);
    }

    static float[] AllLogits(MoeModel model, int[][] chunks)
    {
        using KvCache cache = model.CreateCache();
        var logits = new List<float>();
        foreach (int[] chunk in chunks)
        {
            using var scope = NewDisposeScope();
            logits.AddRange(model.Forward([new SequenceStep(cache, chunk)], allPositions: true).data<float>().ToArray());
        }
        return logits.ToArray();
    }

    static void AssertClose(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst < 1e-5, $"largest logit difference {worst}");
    }
}
