using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model;

/// <summary>Zero-copy views of CPU tensors, for per-token code that must not allocate.</summary>
public static class TensorSpans
{
    /// <summary>The elements of a contiguous float32 CPU tensor; valid while the tensor lives.</summary>
    public static ReadOnlySpan<float> Floats(Tensor t)
    {
        if (t.device_type != DeviceType.CPU || t.dtype != ScalarType.Float32 || !t.is_contiguous())
            throw new ArgumentException("expected a contiguous float32 tensor on the CPU", nameof(t));
        return MemoryMarshal.Cast<byte, float>(t.bytes);
    }
}
