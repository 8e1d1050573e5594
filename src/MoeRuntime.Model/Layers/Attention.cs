using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>The projections of one attention layer; biases and q/k norms are present only where the architecture has them.</summary>
public sealed record AttentionWeights(
    Tensor Query, Tensor Key, Tensor Value, Tensor Output,
    Tensor? QueryBias = null, Tensor? KeyBias = null, Tensor? ValueBias = null,
    Tensor? QueryNorm = null, Tensor? KeyNorm = null) : IDisposable
{
    public void Dispose()
    {
        foreach (Tensor? t in new[] { Query, Key, Value, Output, QueryBias, KeyBias, ValueBias, QueryNorm, KeyNorm })
            t?.Dispose();
    }
}

/// <summary>
/// Causal self-attention with grouped key/value heads over a batch of sequences. Projections run on
/// the whole flattened batch; the attention itself runs per sequence against that sequence's cache.
/// </summary>
public sealed class Attention(AttentionWeights weights, int heads, int keyValueHeads, int headDimension, double normEpsilon) : IDisposable
{
    public AttentionWeights Weights { get; } = weights;

    public Tensor Forward(int layer, Tensor hidden, Tensor positions, IReadOnlyList<SequenceSlice> sequences, RotaryEmbedding rope)
    {
        using var scope = NewDisposeScope();
        long n = hidden.shape[0];
        Tensor q = nn.functional.linear(hidden, Weights.Query, Weights.QueryBias);
        Tensor k = nn.functional.linear(hidden, Weights.Key, Weights.KeyBias);
        Tensor v = nn.functional.linear(hidden, Weights.Value, Weights.ValueBias);
        if (Weights.QueryNorm is not null) q = RmsNorm.Apply(q, Weights.QueryNorm, normEpsilon);
        if (Weights.KeyNorm is not null) k = RmsNorm.Apply(k, Weights.KeyNorm, normEpsilon);
        q = rope.Apply(q.view(n, heads, headDimension), positions);
        k = rope.Apply(k.view(n, keyValueHeads, headDimension), positions);
        v = v.view(n, keyValueHeads, headDimension);

        var outputs = new Tensor[sequences.Count];
        for (int i = 0; i < sequences.Count; i++)
        {
            SequenceSlice s = sequences[i];
            var (keys, values) = s.Cache.Append(layer, k.narrow(0, s.Start, s.Count), v.narrow(0, s.Start, s.Count));
            Tensor query = q.narrow(0, s.Start, s.Count).transpose(0, 1).unsqueeze(0);
            outputs[i] = Attend(query, keys, values, s.Cache.Length)
                .squeeze(0).transpose(0, 1).reshape(s.Count, heads * headDimension);
        }
        Tensor attended = outputs.Length == 1 ? outputs[0] : cat(outputs, 0);
        return nn.functional.linear(attended, Weights.Output).MoveToOuterDisposeScope();
    }

    /// <summary>query [1, H, T, D] over keys/values [1, KV, S, D]; the T queries sit at positions cached..cached+T-1.</summary>
    Tensor Attend(Tensor query, Tensor keys, Tensor values, int cached)
    {
        int group = heads / keyValueHeads;
        if (group > 1)
        {
            keys = keys.repeat_interleave(group, 1);
            values = values.repeat_interleave(group, 1);
        }
        long t = query.shape[2];
        if (t == 1) return nn.functional.scaled_dot_product_attention(query, keys, values);
        if (cached == 0) return nn.functional.scaled_dot_product_attention(query, keys, values, is_casual: true);
        // Queries after a cached prefix may see the whole prefix and their own causal part.
        Tensor mask = ones([t, cached + t], ScalarType.Bool, query.device).tril(cached);
        return nn.functional.scaled_dot_product_attention(query, keys, values, mask);
    }

    public void Dispose() => Weights.Dispose();
}
