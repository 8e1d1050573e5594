using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// The projections of one attention layer; biases and q/k norms are present only where the architecture has them.
/// q/k norms of the projection's full width (OLMoE) apply to the whole projection; of one head's width
/// (Qwen3-MoE) to each head.
/// </summary>
public sealed record AttentionWeights(
    Tensor Query, Tensor Key, Tensor Value, Tensor Output,
    Tensor? QueryBias = null, Tensor? KeyBias = null, Tensor? ValueBias = null,
    Tensor? QueryNorm = null, Tensor? KeyNorm = null, Tensor? OutputBias = null) : IDisposable
{
    public void Dispose()
    {
        foreach (Tensor? t in new[] { Query, Key, Value, Output, QueryBias, KeyBias, ValueBias, QueryNorm, KeyNorm, OutputBias })
            t?.Dispose();
    }
}

/// <summary>
/// Causal self-attention with grouped key/value heads over a batch of sequences. Projections run on
/// the whole flattened batch; the attention itself runs per sequence against that sequence's cache.
/// With a sliding window a query at position p sees keys at p - window + 1 .. p (transformers' mask).
/// </summary>
public sealed class Attention(AttentionWeights weights, int heads, int keyValueHeads, int headDimension, double normEpsilon,
    int? slidingWindow = null, double? clipQkv = null) : IDisposable
{
    public AttentionWeights Weights { get; } = weights;

    // Held, not implicit: TorchSharp frees an implicit Scalar whenever a collection finds it, even during the call.
    readonly Scalar? _clipLow = clipQkv is { } low ? (-low).ToScalar() : null;
    readonly Scalar? _clipHigh = clipQkv?.ToScalar();

    Tensor Norm(Tensor x, Tensor? weight, int headCount)
    {
        if (weight is null) return x;
        if (weight.shape[0] == headDimension && headCount > 1)
            return RmsNorm.Apply(x.view(x.shape[0], headCount, headDimension), weight, normEpsilon).view(x.shape[0], headCount * headDimension);
        return RmsNorm.Apply(x, weight, normEpsilon);
    }

    Tensor Clip(Tensor x) => _clipLow is null ? x : x.clamp(_clipLow, _clipHigh);

    public Tensor Forward(int layer, Tensor hidden, Tensor positions, IReadOnlyList<SequenceSlice> sequences, RotaryEmbedding rope)
    {
        using IDisposable mode = Inference.Enter();
        using var scope = NewDisposeScope();
        long n = hidden.shape[0];
        Tensor q = nn.functional.linear(hidden, Weights.Query, Weights.QueryBias);
        Tensor k = nn.functional.linear(hidden, Weights.Key, Weights.KeyBias);
        Tensor v = nn.functional.linear(hidden, Weights.Value, Weights.ValueBias);
        q = Clip(Norm(q, Weights.QueryNorm, heads));
        k = Clip(Norm(k, Weights.KeyNorm, keyValueHeads));
        v = Clip(v);
        q = rope.Apply(q.view(n, heads, headDimension), positions, sequences);
        k = rope.Apply(k.view(n, keyValueHeads, headDimension), positions, sequences);
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
        return nn.functional.linear(attended, Weights.Output, Weights.OutputBias).MoveToOuterDisposeScope();
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
        if (slidingWindow is { } window && cached + t > window)
        {
            // Query i (position cached + i) sees key j when j <= cached + i and j > cached + i - window.
            using Scalar first = cached.ToScalar(), end = (cached + t).ToScalar(), zero = 0.ToScalar(), width = window.ToScalar();
            Tensor rows = arange(first, end, Scalars.One, ScalarType.Int64, query.device).unsqueeze(1);
            Tensor columns = arange(zero, end, Scalars.One, ScalarType.Int64, query.device).unsqueeze(0);
            Tensor visible = columns.le(rows).logical_and_(columns.gt(rows.sub(width)));
            return nn.functional.scaled_dot_product_attention(query, keys, values, visible);
        }
        if (t == 1) return nn.functional.scaled_dot_product_attention(query, keys, values);
        if (cached == 0) return nn.functional.scaled_dot_product_attention(query, keys, values, is_casual: true);
        // Queries after a cached prefix may see the whole prefix and their own causal part.
        Tensor mask = ones([t, cached + t], ScalarType.Bool, query.device).tril(cached);
        return nn.functional.scaled_dot_product_attention(query, keys, values, mask);
    }

    public void Dispose()
    {
        Weights.Dispose();
        _clipLow?.Dispose();
        _clipHigh?.Dispose();
    }
}
