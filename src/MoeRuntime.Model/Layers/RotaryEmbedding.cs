using MoeRuntime.Model.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// Rotary position embedding in the Hugging Face "rotate half" layout: the first and second halves of
/// each head are the two coordinates of every rotated pair. Cos/sin tables are built once per model.
/// Linear scaling divides every inverse frequency by the factor; dynamic NTK scaling, for a sequence
/// whose longest position in a step reaches past <c>max_position_embeddings</c>, recomputes the base from
/// that length for the step (transformers' <c>dynamic_rope_update</c>, per sequence).
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    readonly Tensor _cos;
    readonly Tensor _sin;
    readonly int _half;
    readonly int _headDimension;
    readonly double _theta;
    readonly RopeScaling _scaling;

    public RotaryEmbedding(int headDimension, double theta, int maxPositions, Device device)
        : this(headDimension, theta, maxPositions, RopeScaling.None, device)
    {
    }

    public RotaryEmbedding(int headDimension, double theta, int maxPositions, RopeScaling scaling, Device device)
    {
        _half = headDimension / 2;
        _headDimension = headDimension;
        _theta = theta;
        _scaling = scaling;
        MaxPositions = maxPositions;
        using var scope = NewDisposeScope();
        Tensor table = Angles(Range(0, maxPositions), InverseFrequency(theta));
        _cos = table.cos().to(ScalarType.Float32).to(device).MoveToOuterDisposeScope();
        _sin = table.sin().to(ScalarType.Float32).to(device).MoveToOuterDisposeScope();
    }

    /// <summary>Positions the precomputed tables cover (<c>max_position_embeddings</c>).</summary>
    public int MaxPositions { get; }

    // Every Scalar held for the call that reads it: TorchSharp frees an implicit one whenever a collection finds it.
    static Tensor Range(int start, int stop)
    {
        using Scalar first = start.ToScalar(), end = stop.ToScalar();
        return arange(first, end, Scalars.One, ScalarType.Float64);
    }

    Tensor InverseFrequency(double theta)
    {
        using Scalar zero = 0.ToScalar(), width = _headDimension.ToScalar(), two = 2.ToScalar();
        using Tensor exponents = arange(zero, width, two, ScalarType.Float64).div_(width);
        using Tensor @base = tensor(theta);
        Tensor inverse = pow(@base, exponents).reciprocal_();
        if (_scaling.Type != RopeScalingType.Linear) return inverse;
        using Scalar factor = _scaling.Factor.ToScalar();
        return inverse.div_(factor);
    }

    static Tensor Angles(Tensor positions, Tensor inverseFrequency)
    {
        Tensor angles = outer(positions, inverseFrequency);
        return cat([angles, angles], 1);
    }

    /// <summary>Dynamic NTK's base for a sequence of <paramref name="length"/> positions (unchanged up to the trained length).</summary>
    public static double DynamicBase(double theta, double factor, int trainedLength, int length, int headDimension)
    {
        double seq = Math.Max(length, trainedLength);
        return theta * Math.Pow(factor * seq / trainedLength - (factor - 1), headDimension / (headDimension - 2.0));
    }

    /// <summary>Rotates <paramref name="x"/> [tokens, heads, headDim] by each token's position.</summary>
    public Tensor Apply(Tensor x, Tensor positions)
    {
        using var scope = NewDisposeScope();
        Tensor cos = _cos.index_select(0, positions).unsqueeze(1);
        Tensor sin = _sin.index_select(0, positions).unsqueeze(1);
        return Rotate(x, cos, sin).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotates <paramref name="x"/> [tokens, heads, headDim] whose rows belong to <paramref name="sequences"/>;
    /// with dynamic scaling a sequence past the trained length is rotated with its own, longer-base frequencies.
    /// </summary>
    public Tensor Apply(Tensor x, Tensor positions, IReadOnlyList<SequenceSlice> sequences)
    {
        if (_scaling.Type != RopeScalingType.Dynamic || !sequences.Any(s => s.Cache.Length + s.Count > MaxPositions))
            return Apply(x, positions);
        using var scope = NewDisposeScope();
        var parts = new Tensor[sequences.Count];
        for (int i = 0; i < sequences.Count; i++)
        {
            SequenceSlice s = sequences[i];
            Tensor rows = x.narrow(0, s.Start, s.Count);
            int length = s.Cache.Length + s.Count;
            if (length <= MaxPositions)
            {
                parts[i] = Apply(rows, positions.narrow(0, s.Start, s.Count));
                continue;
            }
            double theta = DynamicBase(_theta, _scaling.Factor, MaxPositions, length, _headDimension);
            Tensor table = Angles(Range(s.Cache.Length, length), InverseFrequency(theta));
            Tensor cos = table.cos().to(ScalarType.Float32).to(x.device).unsqueeze(1);
            Tensor sin = table.sin().to(ScalarType.Float32).to(x.device).unsqueeze(1);
            parts[i] = Rotate(rows, cos, sin);
        }
        return (parts.Length == 1 ? parts[0] : cat(parts, 0)).MoveToOuterDisposeScope();
    }

    Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        Tensor first = x.narrow(-1, 0, _half);
        Tensor second = x.narrow(-1, _half, _half);
        Tensor rotated = cat([second.neg(), first], -1);
        return (x * cos).add_(rotated.mul_(sin), Scalars.One);
    }

    public void Dispose()
    {
        _cos.Dispose();
        _sin.Dispose();
    }
}
