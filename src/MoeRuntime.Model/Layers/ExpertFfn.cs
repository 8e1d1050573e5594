using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// One SwiGLU expert, <c>w2(silu(w1 x) * w3 x)</c>, owning its weights so that a holder can move it
/// between tiers. w1 and w3 are stacked into one [2I, H] matrix so that both projections are one
/// call. w2 is held transposed, [I, H]: libtorch's CPU matmul multiplies by a row-major right-hand
/// side markedly faster than by a transposed one at this shape (see docs/benchmarks.md).
/// </summary>
public sealed class ExpertFfn : IDisposable
{
    readonly Tensor _gateUp;
    readonly Tensor _downTransposed;

    /// <summary>Takes ownership of <paramref name="gateUp"/> [2I, H] (w1 rows, then w3 rows) and <paramref name="down"/> [H, I].</summary>
    public ExpertFfn(Tensor gateUp, Tensor down)
    {
        if (gateUp.dim() != 2 || down.dim() != 2 || gateUp.shape[0] != 2 * down.shape[1] || gateUp.shape[1] != down.shape[0])
            throw new ArgumentException(
                $"expert shapes do not fit: gate/up [{string.Join(", ", gateUp.shape)}], down [{string.Join(", ", down.shape)}]");
        HiddenSize = (int)down.shape[0];
        IntermediateSize = (int)down.shape[1];
        _gateUp = gateUp.DetachFromDisposeScope();
        using (down)
        using (Tensor transposed = down.t())
            _downTransposed = transposed.contiguous().DetachFromDisposeScope();
    }

    /// <summary>Builds an expert from the checkpoint's three projections (copied; the caller keeps its tensors).</summary>
    public static ExpertFfn FromProjections(Tensor w1, Tensor w2, Tensor w3, Device device)
    {
        using var scope = NewDisposeScope();
        Tensor gateUp = cat([w1, w3], 0).to(ScalarType.Float32).to(device).contiguous();
        Tensor down = w2.to(ScalarType.Float32).to(device).contiguous();
        return new ExpertFfn(gateUp.MoveToOuterDisposeScope(), down.MoveToOuterDisposeScope());
    }

    // Plain fields: reading a tensor's shape is a native call, and Forward needs the size three times.
    public int HiddenSize { get; }
    public int IntermediateSize { get; }
    public Device Device => _gateUp.device;
    public long Bytes => (_gateUp.NumberOfElements + _downTransposed.NumberOfElements) * _gateUp.ElementSize;

    /// <summary>Runs the expert on a batch of tokens [n, H] and returns [n, H].</summary>
    public Tensor Forward(Tensor tokens)
    {
        using IDisposable mode = Inference.Enter();
        using var scope = NewDisposeScope();
        Tensor hidden = nn.functional.linear(tokens, _gateUp);
        Tensor gate = hidden.narrow(1, 0, IntermediateSize);
        nn.functional.silu(gate, inplace: true);
        gate.mul_(hidden.narrow(1, IntermediateSize, IntermediateSize));
        return matmul(gate, _downTransposed).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _gateUp.Dispose();
        _downTransposed.Dispose();
    }
}
