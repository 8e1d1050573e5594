using static TorchSharp.torch;

namespace MoeRuntime.Benchmarks;

/// <summary>
/// The textbook SwiGLU expert: three separate projections and out-of-place silu and multiply. It is
/// the baseline that shows what the stacked gate/up layout of <c>ExpertFfn</c> buys.
/// </summary>
sealed class NaiveExpertFfn(Tensor w1, Tensor w2, Tensor w3) : IDisposable
{
    readonly Tensor _w1 = w1.DetachFromDisposeScope();
    readonly Tensor _w2 = w2.DetachFromDisposeScope();
    readonly Tensor _w3 = w3.DetachFromDisposeScope();

    public Tensor Forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        Tensor gate = nn.functional.silu(nn.functional.linear(tokens, _w1));
        Tensor up = nn.functional.linear(tokens, _w3);
        return nn.functional.linear(gate * up, _w2).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _w1.Dispose();
        _w2.Dispose();
        _w3.Dispose();
    }
}
