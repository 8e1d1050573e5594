using System.Numerics;
using System.Runtime.InteropServices;
using MoeRuntime.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// Whether an expert's output holds only finite values (no NaN, no infinity), the check every expert call makes before
/// its answer counts. A contiguous float32 CPU tensor is read in place, a vector at a time: no tensor is created and
/// nothing is allocated, where <c>isfinite().all().item()</c> makes two tensors and three native calls per expert call.
/// </summary>
public static class FiniteCheck
{
    /// <summary>IEEE 754 single: an exponent of all ones is infinity (zero mantissa) or NaN (any other).</summary>
    const uint ExponentBits = 0x7F80_0000;

    /// <summary>True when no element of <paramref name="values"/> is NaN or infinite.</summary>
    public static bool All(ReadOnlySpan<float> values)
    {
        ReadOnlySpan<uint> bits = MemoryMarshal.Cast<float, uint>(values);
        int i = 0;
        if (Vector.IsHardwareAccelerated && bits.Length >= Vector<uint>.Count)
        {
            var exponent = new Vector<uint>(ExponentBits);
            // Accumulates, per lane, whether any element had every exponent bit set; one test at the end.
            Vector<uint> flagged = Vector<uint>.Zero;
            for (; i <= bits.Length - Vector<uint>.Count; i += Vector<uint>.Count)
                flagged |= Vector.Equals(new Vector<uint>(bits.Slice(i)) & exponent, exponent);
            if (flagged != Vector<uint>.Zero) return false;
        }
        for (; i < bits.Length; i++)
            if ((bits[i] & ExponentBits) == ExponentBits) return false;
        return true;
    }

    /// <summary>
    /// True when <paramref name="tensor"/> holds only finite values: read in place when it is a contiguous float32 CPU tensor,
    /// otherwise by libtorch (its temporaries disposed here).
    /// </summary>
    public static bool All(Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.device_type == DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous())
            return All(TensorSpans.Floats(tensor));
        using var scope = NewDisposeScope();
        return tensor.isfinite().all().item<bool>();
    }
}
