using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// Rotary position embedding in the Hugging Face "rotate half" layout: the first and second halves of
/// each head are the two coordinates of every rotated pair. Cos/sin tables are built once per model.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _cos;
    readonly Tensor _sin;
    readonly int _half;

    public RotaryEmbedding(int headDimension, double theta, int maxPositions, Device device)
    {
        _half = headDimension / 2;
        MaxPositions = maxPositions;
        using var scope = NewDisposeScope();
        Tensor inverseFrequency = 1.0 / pow(theta, arange(0, headDimension, 2, ScalarType.Float64) / headDimension);
        Tensor angles = outer(arange(maxPositions, ScalarType.Float64), inverseFrequency);
        Tensor table = cat([angles, angles], 1);
        _cos = table.cos().to(ScalarType.Float32).to(device).MoveToOuterDisposeScope();
        _sin = table.sin().to(ScalarType.Float32).to(device).MoveToOuterDisposeScope();
    }

    public int MaxPositions { get; }

    /// <summary>Rotates <paramref name="x"/> [tokens, heads, headDim] by each token's position.</summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        using var scope = NewDisposeScope();
        Tensor cos = _cos.index_select(0, positions).unsqueeze(1);
        Tensor sin = _sin.index_select(0, positions).unsqueeze(1);
        Tensor first = x.narrow(-1, 0, _half);
        Tensor second = x.narrow(-1, _half, _half);
        Tensor rotated = cat([second.neg(), first], -1);
        return (x * cos).add_(rotated.mul_(sin), Scalars.One).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
