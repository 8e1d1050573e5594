using Microsoft.Win32.SafeHandles;
using MoeRuntime.Model.Loading;
using TorchSharp;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// A Hugging Face safetensors checkpoint directory, opened by reading only its headers. Tensor data is read on
/// demand, one tensor's byte range at a time, so a single expert can be loaded without touching the rest.
/// Reads are positional and may run concurrently.
/// </summary>
public sealed class SafetensorsCheckpoint : ITensorSource, IDisposable
{
    private readonly Dictionary<string, TensorEntry> _tensors;
    private readonly Dictionary<string, SafeFileHandle> _shards;
    private readonly string? _indexPath;
    private long _bytesRead;
    private bool _disposed;

    private SafetensorsCheckpoint(
        string directory, string? indexPath, Dictionary<string, TensorEntry> tensors, Dictionary<string, SafeFileHandle> shards)
    {
        Directory = directory;
        _indexPath = indexPath;
        _tensors = tensors;
        _shards = shards;
    }

    /// <summary>Full path of the checkpoint directory.</summary>
    public string Directory { get; }

    /// <summary>Every tensor in the checkpoint, by name.</summary>
    public IReadOnlyDictionary<string, TensorEntry> Tensors => _tensors;

    IEnumerable<string> Loading.ITensorSource.Names => _tensors.Keys;

    /// <summary>Total tensor-data bytes read so far; headers are not counted.</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>Largest single read into a tensor; tests lower it to exercise reads in several runs.</summary>
    internal int MaxChunkBytes { get; set; } = TensorBytes.DefaultMaxChunkBytes;

    /// <summary>
    /// Opens the checkpoint in <paramref name="directory"/>: the shards named by model.safetensors.index.json when
    /// present, otherwise every *.safetensors file in the directory. Only headers are read, and all are validated.
    /// </summary>
    public static SafetensorsCheckpoint Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string fullDirectory = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(fullDirectory))
        {
            throw new CheckpointException(fullDirectory, null, "is not a directory");
        }

        string indexPath = Path.Combine(fullDirectory, CheckpointIndex.FileName);
        var shards = new Dictionary<string, SafeFileHandle>(StringComparer.Ordinal);
        try
        {
            if (File.Exists(indexPath))
            {
                var tensors = OpenIndexed(fullDirectory, indexPath, shards);
                return new SafetensorsCheckpoint(fullDirectory, indexPath, tensors, shards);
            }

            return new SafetensorsCheckpoint(fullDirectory, null, OpenUnindexed(fullDirectory, shards), shards);
        }
        catch
        {
            foreach (var shard in shards.Values)
            {
                shard.Dispose();
            }

            throw;
        }
    }

    /// <summary>True when the checkpoint holds a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => _tensors.ContainsKey(name);

    torch.Tensor ITensorSource.Read(string name, long[] expectedShape) =>
        ReadTensor(name, expectedShape, torch.ScalarType.Float32);

    /// <summary>Where the tensor called <paramref name="name"/> is stored.</summary>
    /// <exception cref="CheckpointException">The checkpoint has no such tensor.</exception>
    public TensorEntry Entry(string name)
    {
        if (_tensors.TryGetValue(name, out var entry))
        {
            return entry;
        }

        throw new CheckpointException(_indexPath ?? Directory, name, "is missing");
    }

    /// <summary>
    /// Reads one tensor into a new CPU tensor the caller owns, reading only its byte range.
    /// </summary>
    /// <param name="name">The tensor's name in the checkpoint.</param>
    /// <param name="expectedShape">When given, the stored shape must equal it.</param>
    /// <param name="dtype">When given and different from the stored dtype, the tensor is converted to it.</param>
    /// <exception cref="CheckpointException">The tensor is missing, has another shape, or cannot be read.</exception>
    public torch.Tensor ReadTensor(string name, long[]? expectedShape = null, torch.ScalarType? dtype = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var entry = Entry(name);
        if (expectedShape is not null && !entry.Shape.AsSpan().SequenceEqual(expectedShape))
        {
            throw new CheckpointException(
                entry.File,
                name,
                $"has shape {SafetensorsHeader.FormatShape(entry.Shape)}, expected {SafetensorsHeader.FormatShape(expectedShape)}");
        }

        var tensor = torch.empty(entry.Shape, entry.DType.ToScalarType());
        try
        {
            var file = _shards[entry.File];
            TensorBytes.ForEachChunk(
                tensor, MaxChunkBytes, (offset, chunk) => ReadRange(entry, file, chunk, entry.Offset + offset));
        }
        catch
        {
            tensor.Dispose();
            throw;
        }

        if (dtype is not { } target || target == tensor.dtype)
        {
            return tensor;
        }

        using (tensor)
        {
            return tensor.to_type(target);
        }
    }

    /// <summary>Copies the raw stored bytes of <paramref name="entry"/> into <paramref name="destination"/>.</summary>
    /// <param name="entry">An entry of this checkpoint.</param>
    /// <param name="destination">Exactly <see cref="TensorEntry.Length"/> bytes long.</param>
    /// <exception cref="CheckpointException">The bytes cannot be read.</exception>
    public void ReadBytes(TensorEntry entry, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_tensors.TryGetValue(entry.Name, out var known) || !ReferenceEquals(known, entry))
        {
            throw new ArgumentException($"Tensor entry '{entry.Name}' does not belong to the checkpoint in {Directory}.", nameof(entry));
        }

        if (destination.Length != entry.Length)
        {
            throw new ArgumentException(
                $"Tensor '{entry.Name}' is {entry.Length} bytes; the destination holds {destination.Length}.", nameof(destination));
        }

        ReadRange(entry, _shards[entry.File], destination, entry.Offset);
    }

    /// <summary>
    /// Feeds the stored bytes of <paramref name="entry"/> to <paramref name="hash"/> in runs of at most
    /// <paramref name="buffer"/>'s length, so a tensor of any size is hashed without holding it whole.
    /// </summary>
    internal void HashBytes(TensorEntry entry, System.Security.Cryptography.IncrementalHash hash, byte[] buffer)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_tensors.TryGetValue(entry.Name, out var known) || !ReferenceEquals(known, entry))
        {
            throw new ArgumentException($"Tensor entry '{entry.Name}' does not belong to the checkpoint in {Directory}.", nameof(entry));
        }

        var file = _shards[entry.File];
        for (long done = 0; done < entry.Length;)
        {
            int run = (int)Math.Min(buffer.Length, entry.Length - done);
            ReadRange(entry, file, buffer.AsSpan(0, run), entry.Offset + done);
            hash.AppendData(buffer, 0, run);
            done += run;
        }
    }

    /// <summary>Closes the shard files.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var shard in _shards.Values)
        {
            shard.Dispose();
        }
    }

    private void ReadRange(TensorEntry entry, SafeFileHandle file, Span<byte> destination, long offset)
    {
        FileRange.ReadExactly(entry.File, entry.Name, file, destination, offset);
        Interlocked.Add(ref _bytesRead, destination.Length);
    }

    private static Dictionary<string, TensorEntry> OpenIndexed(
        string directory, string indexPath, Dictionary<string, SafeFileHandle> shards)
    {
        var weightMap = CheckpointIndex.ReadWeightMap(indexPath);
        var headers = new Dictionary<string, Dictionary<string, TensorEntry>>(StringComparer.Ordinal);
        var tensors = new Dictionary<string, TensorEntry>(weightMap.Count, StringComparer.Ordinal);
        foreach (var (name, shardName) in weightMap)
        {
            string shardPath = Path.Combine(directory, shardName);
            if (!headers.TryGetValue(shardPath, out var header))
            {
                if (!File.Exists(shardPath))
                {
                    throw new CheckpointException(indexPath, name, $"is mapped to shard {shardPath}, which does not exist");
                }

                header = OpenShard(shardPath, shards).ToDictionary(e => e.Name, StringComparer.Ordinal);
                headers.Add(shardPath, header);
            }

            if (!header.TryGetValue(name, out var entry))
            {
                throw new CheckpointException(shardPath, name, $"is missing, though {indexPath} maps it to this shard");
            }

            tensors.Add(name, entry);
        }

        return tensors;
    }

    private static Dictionary<string, TensorEntry> OpenUnindexed(string directory, Dictionary<string, SafeFileHandle> shards)
    {
        // Ordinal order keeps tensor order stable across file systems.
        var files = System.IO.Directory.EnumerateFiles(directory)
            .Where(f => f.EndsWith(".safetensors", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
        {
            throw new CheckpointException(directory, null, $"holds neither {CheckpointIndex.FileName} nor any .safetensors file");
        }

        var tensors = new Dictionary<string, TensorEntry>(StringComparer.Ordinal);
        foreach (string file in files)
        {
            foreach (var entry in OpenShard(file, shards))
            {
                if (!tensors.TryAdd(entry.Name, entry))
                {
                    throw new CheckpointException(file, entry.Name, $"is also stored in {tensors[entry.Name].File}");
                }
            }
        }

        return tensors;
    }

    private static List<TensorEntry> OpenShard(string path, Dictionary<string, SafeFileHandle> shards)
    {
        SafeFileHandle file;
        try
        {
            file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, null, $"could not be opened: {e.Message}", e);
        }

        // Registered before parsing so that Open closes it if the header turns out to be bad.
        shards.Add(path, file);
        return SafetensorsHeader.Read(path, file);
    }
}
