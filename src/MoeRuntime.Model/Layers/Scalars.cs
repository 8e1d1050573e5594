using TorchSharp;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// Scalars the per-token paths hand to libtorch, created once. TorchSharp 0.107 turns every literal
/// (and the implicit alpha of <c>a + b</c> and <c>add_</c>) into a native Scalar that nothing disposes,
/// so each one waits for the finalizer thread, which then competes with the model for the cores.
/// </summary>
internal static class Scalars
{
    public static readonly Scalar One = 1;
}
