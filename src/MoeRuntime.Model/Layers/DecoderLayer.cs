using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>One pre-norm transformer block: x + attn(norm(x)), then x + moe(norm(x)).</summary>
public sealed class DecoderLayer(int index, Tensor inputNorm, Attention attention, Tensor postAttentionNorm, MoeBlock moe, double normEpsilon) : IDisposable
{
    readonly Tensor _inputNorm = inputNorm.DetachFromDisposeScope();
    readonly Tensor _postAttentionNorm = postAttentionNorm.DetachFromDisposeScope();

    public int Index { get; } = index;
    public Attention Attention { get; } = attention;
    public MoeBlock Moe { get; } = moe;

    /// <summary>The residual stream after attention.</summary>
    public Tensor AttentionStep(Tensor hidden, Tensor positions, IReadOnlyList<SequenceSlice> sequences, RotaryEmbedding rope)
    {
        using IDisposable mode = Inference.Enter();
        using var scope = NewDisposeScope();
        Tensor normed = RmsNorm.Apply(hidden, _inputNorm, normEpsilon);
        return hidden.add(Attention.Forward(Index, normed, positions, sequences, rope), Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>The input of the MoE block: the residual stream, normalised.</summary>
    public Tensor MoeInput(Tensor hidden) => RmsNorm.Apply(hidden, _postAttentionNorm, normEpsilon);

    public Tensor Forward(Tensor hidden, Tensor positions, IReadOnlyList<SequenceSlice> sequences, RotaryEmbedding rope, Action<int, RoutingPlan>? observe)
    {
        using var scope = NewDisposeScope();
        Tensor attended = AttentionStep(hidden, positions, sequences, rope);
        Tensor moeOut = Moe.Forward(MoeInput(attended), observe is null ? null : plan => observe(Index, plan));
        return attended.add(moeOut, Scalars.One).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _inputNorm.Dispose();
        _postAttentionNorm.Dispose();
        Attention.Dispose();
        Moe.Dispose();
    }
}
