using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>Qwen2-MoE's always-on expert, scaled per token by <c>sigmoid(gate · x)</c>.</summary>
public sealed class SharedExpert(ExpertFfn expert, Tensor gate) : IDisposable
{
    readonly Tensor _gate = gate.to(ScalarType.Float32).DetachFromDisposeScope();

    public ExpertFfn Expert { get; } = expert;

    public Tensor Forward(Tensor hidden)
    {
        using IDisposable mode = Inference.Enter();
        using var scope = NewDisposeScope();
        Tensor scale = nn.functional.linear(hidden, _gate).sigmoid();
        return (Expert.Forward(hidden) * scale).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Expert.Dispose();
        _gate.Dispose();
    }
}
