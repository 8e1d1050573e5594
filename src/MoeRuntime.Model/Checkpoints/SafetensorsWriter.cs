using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;
using TorchSharp;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// Writes tensors in the Hugging Face safetensors format, as single files or as sharded checkpoint directories.
/// Every file is written under a temporary name and renamed into place when complete.
/// </summary>
public static class SafetensorsWriter
{
    private const int HeaderAlignment = 8;

    /// <summary>Metadata Hugging Face loaders expect in each shard of a PyTorch checkpoint.</summary>
    private static readonly IReadOnlyDictionary<string, string> ShardMetadata = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>
    /// Writes <paramref name="tensors"/> to one safetensors file, in the given order. Each tensor's own dtype
    /// (F32, F16 or BF16) is the stored dtype; tensors on other devices or with other layouts are copied first.
    /// </summary>
    public static void Write(
        string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.Write(path, stream => WriteFile(stream, Plan(tensors), metadata));
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> as a checkpoint directory. Tensors fill shards in order, starting a new
    /// shard when the next tensor would take the current one past <paramref name="maxShardBytes"/>; a tensor larger
    /// than that gets a shard of its own. Several shards are named model-0000k-of-0000N.safetensors and listed in
    /// model.safetensors.index.json; a single shard is written as model.safetensors without an index.
    /// </summary>
    public static void WriteSharded(string directory, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors, long maxShardBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var shards = Split(Plan(tensors), maxShardBytes);
        System.IO.Directory.CreateDirectory(directory);
        string indexPath = Path.Combine(directory, CheckpointIndex.FileName);

        if (shards.Count == 1)
        {
            string path = Path.Combine(directory, "model.safetensors");
            string temporary = AtomicFile.WriteTemporary(path, stream => WriteFile(stream, shards[0], ShardMetadata));
            // A stale index would take precedence over the new file when the directory is opened.
            File.Delete(indexPath);
            AtomicFile.Commit(temporary, path);
            return;
        }

        var names = Enumerable.Range(1, shards.Count).Select(k => $"model-{k:D5}-of-{shards.Count:D5}.safetensors").ToList();
        var temporaries = new List<string>(shards.Count);
        try
        {
            for (int k = 0; k < shards.Count; k++)
            {
                var shard = shards[k];
                temporaries.Add(AtomicFile.WriteTemporary(Path.Combine(directory, names[k]), stream => WriteFile(stream, shard, ShardMetadata)));
            }

            // The index goes in before the shards: a crash in between leaves an index naming missing shards, which
            // fails to open, rather than shards without an index, which would open as an incomplete checkpoint.
            AtomicFile.Write(indexPath, stream => WriteIndex(stream, shards, names));
            for (int k = 0; k < shards.Count; k++)
            {
                AtomicFile.Commit(temporaries[k], Path.Combine(directory, names[k]));
                temporaries[k] = string.Empty;
            }
        }
        finally
        {
            foreach (string temporary in temporaries.Where(t => t.Length > 0))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>One tensor to write, with its stored dtype and byte length worked out once.</summary>
    private sealed record PlannedTensor(string Name, torch.Tensor Tensor, TensorDType DType, long Length);

    private static List<PlannedTensor> Plan(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var planned = new List<PlannedTensor>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in tensors)
        {
            ArgumentNullException.ThrowIfNull(tensor, name);
            if (name == SafetensorsHeader.MetadataKey)
            {
                throw new ArgumentException($"'{name}' is reserved for metadata and cannot name a tensor.", nameof(tensors));
            }

            if (!names.Add(name))
            {
                throw new ArgumentException($"Tensor '{name}' is given twice.", nameof(tensors));
            }

            if (!TensorDTypes.TryFromScalarType(tensor.dtype, out var dtype))
            {
                throw new ArgumentException($"Tensor '{name}' is {tensor.dtype}; only Float32, Float16 and BFloat16 can be written.", nameof(tensors));
            }

            planned.Add(new PlannedTensor(name, tensor, dtype, tensor.numel() * dtype.ElementSize()));
        }

        return planned;
    }

    private static List<List<PlannedTensor>> Split(List<PlannedTensor> tensors, long maxShardBytes)
    {
        var shards = new List<List<PlannedTensor>> { new() };
        long shardBytes = 0;
        foreach (var tensor in tensors)
        {
            if (shards[^1].Count > 0 && shardBytes + tensor.Length > maxShardBytes)
            {
                shards.Add(new List<PlannedTensor>());
                shardBytes = 0;
            }

            shards[^1].Add(tensor);
            shardBytes += tensor.Length;
        }

        return shards;
    }

    private static void WriteFile(Stream stream, List<PlannedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        byte[] header = Header(tensors, metadata);
        Span<byte> headerLength = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(headerLength, (ulong)header.Length);
        stream.Write(headerLength);
        stream.Write(header);

        foreach (var tensor in tensors)
        {
            using var cpu = tensor.Tensor.cpu();
            using var contiguous = cpu.contiguous();
            TensorBytes.ForEachChunk(contiguous, TensorBytes.DefaultMaxChunkBytes, (_, chunk) => stream.Write(chunk));
        }
    }

    /// <summary>The header JSON, padded with spaces so the data section starts 8-byte aligned.</summary>
    private static byte[] Header(List<PlannedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(SafetensorsHeader.MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
            }

            long offset = 0;
            foreach (var tensor in tensors)
            {
                json.WriteStartObject(tensor.Name);
                json.WriteString("dtype", tensor.DType.ToString());
                json.WriteStartArray("shape");
                foreach (long dimension in tensor.Tensor.shape)
                {
                    json.WriteNumberValue(dimension);
                }

                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + tensor.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += tensor.Length;
            }

            json.WriteEndObject();
        }

        int padding = (HeaderAlignment - buffer.WrittenCount % HeaderAlignment) % HeaderAlignment;
        buffer.GetSpan(padding)[..padding].Fill((byte)' ');
        buffer.Advance(padding);
        return buffer.WrittenSpan.ToArray();
    }

    private static void WriteIndex(Stream stream, List<List<PlannedTensor>> shards, List<string> names)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("metadata");
        json.WriteNumber("total_size", shards.Sum(shard => shard.Sum(tensor => tensor.Length)));
        json.WriteEndObject();
        json.WriteStartObject("weight_map");
        for (int k = 0; k < shards.Count; k++)
        {
            foreach (var tensor in shards[k])
            {
                json.WriteString(tensor.Name, names[k]);
            }
        }

        json.WriteEndObject();
        json.WriteEndObject();
    }
}
