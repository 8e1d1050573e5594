using Microsoft.Extensions.Logging;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model;

/// <summary>
/// Turns a device option (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>) into a TorchSharp device. A CUDA
/// request on a host or build without CUDA falls back to the CPU with a warning, never a crash.
/// </summary>
public static class ComputeDevices
{
    public static Device Resolve(string option, ILogger logger)
    {
        string spec = option.Trim().ToLowerInvariant();
        if (spec is "" or "cpu") return CPU;
        if (spec != "cuda" && !spec.StartsWith("cuda:", StringComparison.Ordinal))
            throw new ArgumentException($"unknown device '{option}': use cpu, cuda or cuda:N", nameof(option));
        int index = 0;
        if (spec.Length > 4 && (!int.TryParse(spec.AsSpan(5), out index) || index < 0))
            throw new ArgumentException($"unknown device '{option}': the CUDA index must be a non-negative integer", nameof(option));
        if (!cuda.is_available())
        {
            logger.LogWarning("Device {Device} requested but CUDA is not available in this build or on this host; using the CPU", option);
            return CPU;
        }
        if (index >= cuda.device_count())
        {
            logger.LogWarning("Device {Device} requested but only {Count} CUDA devices exist; using the CPU", option, cuda.device_count());
            return CPU;
        }
        return new Device(DeviceType.CUDA, index);
    }
}
