using System.Runtime.InteropServices;
using MoeRuntime.Model;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Routing;

/// <summary>Float32 CPU tensors to and from wire payloads: one buffer copy each way.</summary>
public static class TensorPayloads
{
    /// <summary>Copies a [rows, columns] float32 tensor into a payload.</summary>
    public static TensorPayload FromTensor(Tensor matrix)
    {
        using Tensor cpu = matrix.to(ScalarType.Float32).cpu().contiguous();
        byte[] data = MemoryMarshal.AsBytes(TensorSpans.Floats(cpu)).ToArray();
        return new TensorPayload(data, (int)cpu.shape[0], (int)cpu.shape[1]);
    }

    /// <summary>A new float32 tensor [rows, columns] on <paramref name="device"/> holding the payload.</summary>
    public static Tensor ToTensor(TensorPayload payload, Device device)
    {
        Tensor cpu = empty([payload.Rows, payload.Columns], ScalarType.Float32);
        cpu.bytes = payload.Data;
        if (device.type == TorchSharp.DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }
}
