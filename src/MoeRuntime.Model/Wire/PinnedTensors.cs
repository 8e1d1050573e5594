using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Wire;

/// <summary>
/// A CPU tensor of any dtype over a managed byte array's memory, without copying it: the array stays pinned until
/// libtorch frees the last storage over it. TorchSharp's own <c>frombuffer</c> converts when the array's element type
/// differs from the tensor's, so this calls the same native entry point with the bytes declared as the tensor's dtype.
/// </summary>
static unsafe class PinnedTensors
{
    // Pins by data address with a count of the storages over it; the storage's deleter (any thread) counts down.
    static readonly Dictionary<nint, (GCHandle Pin, int Storages)> Pins = [];
    static readonly Lock PinsLock = new();

    [DllImport("LibTorchSharp")]
    static extern nint THSTensor_frombuffer(void* data, delegate* unmanaged<nint, void> deleter, long count, nint offset,
        sbyte scalarType, sbyte dtype, int deviceType, int deviceIndex, byte requiresGrad);

    /// <summary>A 1-D tensor of <paramref name="elements"/> elements of <paramref name="dtype"/> sharing <paramref name="data"/>.</summary>
    public static Tensor Over(byte[] data, ScalarType dtype, long elements)
    {
        if (data.Length == 0) throw new ArgumentException("cannot share an empty array", nameof(data));
        nint address;
        lock (PinsLock)
        {
            GCHandle pin = GCHandle.Alloc(data, GCHandleType.Pinned);
            address = pin.AddrOfPinnedObject();
            if (Pins.TryGetValue(address, out var held))
            {
                pin.Free();
                Pins[address] = (held.Pin, held.Storages + 1);
            }
            else Pins[address] = (pin, 1);
        }
        nint handle = THSTensor_frombuffer((void*)address, &Release, elements, 0, (sbyte)dtype, (sbyte)dtype, 0, -1, 0);
        if (handle == 0)
        {
            Unpin(address);
            throw new InvalidOperationException($"libtorch could not create a {dtype} tensor of {elements} elements over a pinned array");
        }
        return Tensor.UnsafeCreateTensor(handle);
    }

    [UnmanagedCallersOnly]
    static void Release(nint address) => Unpin(address);

    static void Unpin(nint address)
    {
        lock (PinsLock)
        {
            if (!Pins.TryGetValue(address, out var held)) return;
            if (held.Storages > 1) Pins[address] = (held.Pin, held.Storages - 1);
            else
            {
                Pins.Remove(address);
                held.Pin.Free();
            }
        }
    }

    /// <summary>Arrays currently pinned by live tensors (for tests).</summary>
    internal static int Pinned
    {
        get
        {
            lock (PinsLock) return Pins.Count;
        }
    }
}
