using TorchSharp;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// Scalars the per-token paths hand to libtorch, created once. TorchSharp 0.107 turns every literal
/// (and the implicit alpha of <c>a + b</c> and <c>add_</c>) into a native Scalar that nothing disposes,
/// so each one waits for the finalizer thread, which then competes with the model for the cores. Worse, nothing keeps
/// such a Scalar alive during the native call that reads it, so a collection can free it under libtorch ("Unknown scalar
/// type"); src/MoeRuntime.Build/BannedSymbols.TorchSharp.txt fails the build on those calls (docs/reliability.md).
/// </summary>
internal static class Scalars
{
    public static readonly Scalar One = 1.ToScalar();
}
