using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>Root-mean-square layer norm as Mixtral computes it: in float32, then scaled by the weight.</summary>
public static class RmsNorm
{
    public static Tensor Apply(Tensor x, Tensor weight, double epsilon)
    {
        using var scope = NewDisposeScope();
        using Scalar eps = epsilon.ToScalar();
        // x * x, not x.square(), and add_ with Scalars.One: TorchSharp's square is pow with an implicit Scalar 2, and
        // add_(eps) adds with an implicit alpha 1; nothing keeps those alive during the native call, and a garbage
        // collection then can free them under libtorch ("Unknown scalar type", seen in CI; docs/reliability.md).
        Tensor variance = x.mul(x).mean([-1L], keepdim: true);
        return (x * variance.add_(eps, Scalars.One).rsqrt_() * weight).MoveToOuterDisposeScope();
    }
}
