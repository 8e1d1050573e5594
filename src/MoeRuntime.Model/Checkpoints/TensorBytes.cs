using TorchSharp;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>Receives one run of a tensor's raw bytes, starting <paramref name="byteOffset"/> bytes into the tensor.</summary>
internal delegate void TensorChunkAction(long byteOffset, Span<byte> chunk);

/// <summary>Raw byte access to contiguous CPU tensors of any size.</summary>
internal static class TensorBytes
{
    /// <summary>Largest run handed out at once; a Span cannot exceed 2 GiB, while embeddings of large models can.</summary>
    internal const int DefaultMaxChunkBytes = 1 << 30;

    /// <summary>
    /// Hands the tensor's storage to <paramref name="action"/> in runs of at most <paramref name="maxChunkBytes"/>
    /// (rounded down to whole elements). The spans alias the tensor's memory, so writing them fills the tensor.
    /// </summary>
    internal static void ForEachChunk(torch.Tensor contiguousCpu, int maxChunkBytes, TensorChunkAction action)
    {
        long elementSize = contiguousCpu.element_size();
        long count = contiguousCpu.numel();
        if (count == 0)
        {
            return;
        }

        if (count * elementSize <= maxChunkBytes)
        {
            action(0, contiguousCpu.bytes);
            return;
        }

        // Slices of a flat view of a contiguous tensor are contiguous themselves, so each exposes its own span.
        using var flat = contiguousCpu.view(-1);
        long perChunk = Math.Max(1, maxChunkBytes / elementSize);
        for (long first = 0; first < count; first += perChunk)
        {
            using var slice = flat.narrow(0, first, Math.Min(perChunk, count - first));
            action(first * elementSize, slice.bytes);
        }
    }
}
