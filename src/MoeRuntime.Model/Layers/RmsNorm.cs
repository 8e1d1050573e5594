using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>Root-mean-square layer norm as Mixtral computes it: in float32, then scaled by the weight.</summary>
public static class RmsNorm
{
    public static Tensor Apply(Tensor x, Tensor weight, double epsilon)
    {
        using var scope = NewDisposeScope();
        using Scalar eps = epsilon;
        // x * x, not x.square(): TorchSharp's square is pow with an implicit Scalar 2 that nothing keeps alive during
        // the native call, and a garbage collection then can free it under libtorch ("Unknown scalar type", seen in CI).
        Tensor variance = x.mul(x).mean([-1L], keepdim: true);
        return (x * variance.add_(eps).rsqrt_() * weight).MoveToOuterDisposeScope();
    }
}
