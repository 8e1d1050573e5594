using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Wire;

/// <summary>
/// Float32 activations to and from wire bytes in a <see cref="WireFormat"/>, as functions over spans (no tensors, for
/// any caller) and over CPU tensors. Tensor encoding writes the tensor straight into the new array (one pass, the
/// narrowing included); decoding is one pass into a new tensor.
/// </summary>
public static class WireCodec
{
    /// <summary>Bytes per element of <paramref name="format"/>.</summary>
    public static int ElementBytes(WireFormat format) => format switch
    {
        WireFormat.Float32 => sizeof(float),
        WireFormat.Float16 or WireFormat.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown wire format (Float32, Float16, BFloat16)"),
    };

    /// <summary>Bytes of a [rows, columns] matrix in <paramref name="format"/>.</summary>
    public static long ByteLength(int rows, int columns, WireFormat format) => (long)rows * columns * ElementBytes(format);

    /// <summary>Throws, naming the shape, the format and both lengths, unless <paramref name="length"/> bytes hold a [rows, columns] matrix.</summary>
    public static void CheckLength(int length, int rows, int columns, WireFormat format)
    {
        if (rows < 0 || columns < 0)
            throw new ArgumentException($"a wire matrix needs a non-negative shape, was [{rows}, {columns}]");
        long expected = ByteLength(rows, columns, format);
        if (expected != length)
            throw new ArgumentException($"payload of {length} bytes does not hold a {Name(format)} [{rows}, {columns}] matrix ({expected} bytes)");
    }

    /// <summary>The lower-case name of the element type, as in messages and docs.</summary>
    public static string Name(WireFormat format) => format switch
    {
        WireFormat.Float32 => "float32",
        WireFormat.Float16 => "float16",
        WireFormat.BFloat16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown wire format (Float32, Float16, BFloat16)"),
    };

    /// <summary>Writes <paramref name="source"/> into <paramref name="destination"/> (exactly its encoded length).</summary>
    public static void Encode(ReadOnlySpan<float> source, Span<byte> destination, WireFormat format)
    {
        CheckSpans(source.Length, destination.Length, format);
        switch (format)
        {
            case WireFormat.Float32:
                MemoryMarshal.AsBytes(source).CopyTo(destination);
                break;
            case WireFormat.Float16:
                Span<Half> halves = MemoryMarshal.Cast<byte, Half>(destination);
                for (int i = 0; i < source.Length; i++) halves[i] = (Half)source[i];
                break;
            default:
                Span<ushort> brains = MemoryMarshal.Cast<byte, ushort>(destination);
                for (int i = 0; i < source.Length; i++) brains[i] = ToBFloat16(source[i]);
                break;
        }
    }

    /// <summary>Reads <paramref name="source"/> (exactly the encoded length of <paramref name="destination"/>) into float32.</summary>
    public static void Decode(ReadOnlySpan<byte> source, Span<float> destination, WireFormat format)
    {
        CheckSpans(destination.Length, source.Length, format);
        switch (format)
        {
            case WireFormat.Float32:
                source.CopyTo(MemoryMarshal.AsBytes(destination));
                break;
            case WireFormat.Float16:
                ReadOnlySpan<Half> halves = MemoryMarshal.Cast<byte, Half>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = (float)halves[i];
                break;
            default:
                ReadOnlySpan<ushort> brains = MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < destination.Length; i++) destination[i] = FromBFloat16(brains[i]);
                break;
        }
    }

    /// <summary>
    /// A new array holding a [rows, columns] tensor (any dtype, any device, any strides) in <paramref name="format"/>:
    /// the tensor is copied (and narrowed) straight into the array's memory, one pass over an array that is not zeroed first.
    /// </summary>
    public static byte[] Encode(Tensor matrix, WireFormat format)
    {
        if (matrix.dim() != 2) throw new ArgumentException($"expected a [rows, columns] matrix, got {matrix.dim()} dimensions", nameof(matrix));
        int rows = (int)matrix.shape[0], columns = (int)matrix.shape[1];
        // Every byte is written below, so the array is not zeroed first.
        byte[] data = GC.AllocateUninitializedArray<byte>(checked((int)ByteLength(rows, columns, format)));
        if (data.Length == 0) return data;
        if (format == WireFormat.Float32 && matrix.device_type == DeviceType.CPU && matrix.dtype == ScalarType.Float32 && matrix.is_contiguous())
        {
            // Already the wire's layout: one memory copy, no pinning.
            matrix.bytes.CopyTo(data);
            return data;
        }
        using Tensor target = Wrap(data, rows, columns, format);
        target.copy_(matrix);
        return data;
    }

    /// <summary>
    /// A new float32 [rows, columns] tensor on <paramref name="device"/> holding <paramref name="data"/>: float32 is one
    /// memory copy, other formats are widened in one pass.
    /// </summary>
    public static Tensor Decode(byte[] data, int rows, int columns, WireFormat format, Device device)
    {
        CheckLength(data.Length, rows, columns, format);
        if (data.Length == 0) return zeros([rows, columns], ScalarType.Float32, device);
        if (format == WireFormat.Float32 && device.type == DeviceType.CPU)
        {
            // Copied into libtorch's own (aligned) memory: a tensor over the array itself computed bit-differently from
            // call to call (the array's alignment changes which kernels run), and expert answers must be reproducible.
            Tensor copy = empty([rows, columns], ScalarType.Float32);
            data.AsSpan().CopyTo(copy.bytes);
            return copy;
        }
        using Tensor wire = Wrap(data, rows, columns, format);
        return wire.to(ScalarType.Float32, device, copy: true);
    }

    /// <summary>The array as a [rows, columns] tensor of the format's dtype, sharing its memory.</summary>
    static Tensor Wrap(byte[] data, int rows, int columns, WireFormat format)
    {
        using Tensor flat = PinnedTensors.Over(data, DType(format), (long)rows * columns);
        return flat.view(rows, columns);
    }

    static ScalarType DType(WireFormat format) => format switch
    {
        WireFormat.Float32 => ScalarType.Float32,
        WireFormat.Float16 => ScalarType.Float16,
        WireFormat.BFloat16 => ScalarType.BFloat16,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "unknown wire format (Float32, Float16, BFloat16)"),
    };

    static void CheckSpans(int elements, int bytes, WireFormat format)
    {
        if ((long)elements * ElementBytes(format) != bytes)
            throw new ArgumentException($"{bytes} wire bytes do not hold {elements} {Name(format)} elements ({(long)elements * ElementBytes(format)} bytes)");
    }

    /// <summary>Float32 to bfloat16, rounding to nearest even; NaN stays a (quiet) NaN.</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>Bfloat16 to float32 (exact).</summary>
    public static float FromBFloat16(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);
}
