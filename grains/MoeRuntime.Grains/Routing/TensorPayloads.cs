using MoeRuntime.Model.Wire;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// CPU tensors to and from wire payloads (<see cref="WireCodec"/>): encoding writes the tensor straight into the
/// payload's array (one pass, narrowing included); a float32 payload decodes without a copy, sharing the array.
/// </summary>
public static class TensorPayloads
{
    /// <summary>A payload holding a [rows, columns] tensor in <paramref name="format"/>.</summary>
    public static TensorPayload FromTensor(Tensor matrix, WireFormat format = WireFormat.Float32) =>
        new(WireCodec.Encode(matrix, format), (int)matrix.shape[0], (int)matrix.shape[1], Element(format));

    /// <summary>
    /// A float32 tensor [rows, columns] on <paramref name="device"/> holding the payload, in whichever format it came.
    /// On the CPU a float32 payload's array is shared, not copied (payloads are immutable).
    /// </summary>
    public static Tensor ToTensor(TensorPayload payload, Device device) =>
        WireCodec.Decode(payload.Data, payload.Rows, payload.Columns, Format(payload.Element), device);

    /// <summary>The wire format a payload is in, so an answer can be sent back in the request's.</summary>
    public static WireFormat Format(PayloadElement element) => element switch
    {
        PayloadElement.Float32 => WireFormat.Float32,
        PayloadElement.Float16 => WireFormat.Float16,
        PayloadElement.BFloat16 => WireFormat.BFloat16,
        _ => throw new ArgumentException($"unknown payload element type {(int)element} (float32, float16, bfloat16)", nameof(element)),
    };

    static PayloadElement Element(WireFormat format) => format switch
    {
        WireFormat.Float32 => PayloadElement.Float32,
        WireFormat.Float16 => PayloadElement.Float16,
        WireFormat.BFloat16 => PayloadElement.BFloat16,
        _ => throw new ArgumentException($"unknown wire format {(int)format} (Float32, Float16, BFloat16)", nameof(format)),
    };
}
