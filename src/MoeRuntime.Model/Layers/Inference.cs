using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// libtorch's inference mode for one synchronous stretch of the model's work: no autograd bookkeeping (the model never
/// trains), which made the reference's steps 3 - 11 % faster here (docs/benchmarks.md). The mode is per thread, and a
/// tensor made inside it may only be changed in place inside it, so every method that makes or updates the model's
/// tensors in place enters it itself, with no await inside (a dispatch may resume on another thread).
/// </summary>
static class Inference
{
    public static IDisposable Enter() => inference_mode();
}
