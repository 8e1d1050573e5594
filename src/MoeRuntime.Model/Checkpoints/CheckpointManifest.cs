using System.Security.Cryptography;
using System.Text.Json;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// The reference SHA-256 digests of a checkpoint, kept next to it in <see cref="FileName"/>: one per file of the
/// directory (whole-file) and one per tensor (its stored bytes). Written when the model is initialised or imported
/// (<c>moe model init</c>, <c>moe model manifest</c>); a rank checks what it serves against it, so bytes already wrong
/// at start-up, or different between ranks, are caught. The format is in docs/tier-store.md.
/// </summary>
public sealed class CheckpointManifest
{
    public const string FileName = "moe-manifest.json";
    public const int FormatVersion = 1;
    const string Algorithm = "sha256";
    const int HashBufferBytes = 1 << 20;

    readonly Dictionary<string, FileDigest> _files;
    readonly Dictionary<string, byte[]> _tensors;

    CheckpointManifest(Dictionary<string, FileDigest> files, Dictionary<string, byte[]> tensors, string digest)
    {
        _files = files;
        _tensors = tensors;
        Digest = digest;
    }

    /// <summary>SHA-256 (lower-case hex) of the manifest file's bytes: equal on two ranks = same reference digests.</summary>
    public string Digest { get; }

    /// <summary>Every file of the checkpoint directory the manifest covers, by name (no directories).</summary>
    public IReadOnlyDictionary<string, FileDigest> Files => _files;

    /// <summary>Tensors the manifest covers, by name.</summary>
    public IReadOnlyCollection<string> Tensors => _tensors.Keys;

    /// <summary>The 32-byte SHA-256 of <paramref name="tensor"/>'s stored bytes.</summary>
    /// <exception cref="CheckpointException">The manifest has no digest for the tensor.</exception>
    public ReadOnlySpan<byte> TensorDigest(string tensor) =>
        _tensors.TryGetValue(tensor, out byte[]? digest)
            ? digest
            : throw new CheckpointException(FileName, tensor, "has no digest in the manifest; write it again with `moe model manifest`");

    /// <summary>
    /// Hashes every file and tensor of the checkpoint in <paramref name="directory"/>, writes the manifest there
    /// (atomically, replacing an older one) and returns it as written.
    /// </summary>
    public static CheckpointManifest Write(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        directory = Path.GetFullPath(directory);
        var files = new Dictionary<string, FileDigest>(StringComparer.Ordinal);
        foreach (string path in CoveredFiles(directory))
            files.Add(Path.GetFileName(path), new FileDigest(new FileInfo(path).Length, HashFile(path)));
        var tensors = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        using (var checkpoint = SafetensorsCheckpoint.Open(directory))
        {
            byte[] buffer = GC.AllocateUninitializedArray<byte>(HashBufferBytes);
            foreach (TensorEntry entry in checkpoint.Tensors.Values.OrderBy(e => e.Name, StringComparer.Ordinal))
                tensors.Add(entry.Name, HashTensor(checkpoint, entry, buffer));
        }

        byte[] json = Serialize(files, tensors);
        AtomicFile.Write(Path.Combine(directory, FileName), stream => stream.Write(json));
        return new CheckpointManifest(files, tensors, Convert.ToHexStringLower(SHA256.HashData(json)));
    }

    /// <summary>The manifest in <paramref name="directory"/>, or null when the checkpoint has none.</summary>
    /// <exception cref="CheckpointException">The manifest exists but cannot be read or is malformed.</exception>
    public static CheckpointManifest? Load(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        string path = Path.Combine(Path.GetFullPath(directory), FileName);
        if (!File.Exists(path)) return null;
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException(path, null, $"could not be read: {e.Message}", e);
        }

        try
        {
            return Parse(json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, null, $"is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new CheckpointException(path, null, $"is malformed: {e.Message}", e);
        }
    }

    /// <summary>
    /// Checks that the manifest covers exactly the tensors of <paramref name="checkpoint"/> and that every file it lists
    /// is there with its size. Reads no tensor data.
    /// </summary>
    /// <exception cref="CheckpointException">The manifest does not describe this checkpoint; the message names what differs.</exception>
    public void CheckCovers(SafetensorsCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        string path = Path.Combine(checkpoint.Directory, FileName);
        foreach (var (name, file) in _files)
        {
            var info = new FileInfo(Path.Combine(checkpoint.Directory, name));
            if (!info.Exists) throw new CheckpointException(path, null, $"lists {name}, which is missing from {checkpoint.Directory}");
            if (info.Length != file.Bytes)
                throw new CheckpointException(path, null, $"lists {name} with {file.Bytes} bytes; the file has {info.Length}");
        }

        if (checkpoint.Tensors.Keys.FirstOrDefault(t => !_tensors.ContainsKey(t)) is { } unlisted)
            throw new CheckpointException(path, unlisted, "is in the checkpoint but not in its manifest");
        if (_tensors.Keys.FirstOrDefault(t => !checkpoint.Contains(t)) is { } gone)
            throw new CheckpointException(path, gone, "is in the manifest but not in the checkpoint");
    }

    /// <summary>True when the stored bytes of <paramref name="entry"/> hash to the manifest's digest (read streaming).</summary>
    public bool TensorMatches(SafetensorsCheckpoint checkpoint, TensorEntry entry, byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        ArgumentNullException.ThrowIfNull(entry);
        return HashTensor(checkpoint, entry, buffer).AsSpan().SequenceEqual(TensorDigest(entry.Name));
    }

    /// <summary>True when the whole file <paramref name="name"/> of <paramref name="directory"/> hashes to its digest.</summary>
    public bool FileMatches(string directory, string name) =>
        _files.TryGetValue(name, out FileDigest? file)
            ? HashFile(Path.Combine(directory, name)).AsSpan().SequenceEqual(file.Sha256)
            : throw new CheckpointException(FileName, null, $"has no digest for file {name}");

    /// <summary>A buffer for <see cref="TensorMatches"/>.</summary>
    public static byte[] NewHashBuffer() => GC.AllocateUninitializedArray<byte>(HashBufferBytes);

    /// <summary>
    /// Every file that differs from its digest, hashed whole, and every listed file that is missing: what
    /// <c>moe model manifest --verify</c> prints. Empty when the checkpoint is intact.
    /// </summary>
    public IReadOnlyList<string> VerifyFiles(string directory)
    {
        var problems = new List<string>();
        foreach (var (name, file) in _files.OrderBy(f => f.Key, StringComparer.Ordinal))
        {
            string path = Path.Combine(directory, name);
            if (!File.Exists(path)) problems.Add($"{name}: missing");
            else if (new FileInfo(path).Length != file.Bytes) problems.Add($"{name}: {new FileInfo(path).Length} bytes, the manifest says {file.Bytes}");
            else if (!HashFile(path).AsSpan().SequenceEqual(file.Sha256)) problems.Add($"{name}: SHA-256 differs from the manifest");
        }

        return problems;
    }

    /// <summary>Regular, non-hidden files directly in the directory, the manifest itself excepted, in ordinal order.</summary>
    static IEnumerable<string> CoveredFiles(string directory) =>
        Directory.EnumerateFiles(directory)
            .Where(f => Path.GetFileName(f) is var name && name != FileName && !name.StartsWith('.'))
            .Order(StringComparer.Ordinal);

    static byte[] HashFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, FileOptions.SequentialScan);
        return SHA256.HashData(stream);
    }

    static byte[] HashTensor(SafetensorsCheckpoint checkpoint, TensorEntry entry, byte[] buffer)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        checkpoint.HashBytes(entry, hash, buffer);
        return hash.GetHashAndReset();
    }

    static byte[] Serialize(Dictionary<string, FileDigest> files, Dictionary<string, byte[]> tensors)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteNumber("format", FormatVersion);
            json.WriteString("algorithm", Algorithm);
            json.WriteStartObject("files");
            foreach (var (name, file) in files.OrderBy(f => f.Key, StringComparer.Ordinal))
            {
                json.WriteStartObject(name);
                json.WriteNumber("bytes", file.Bytes);
                json.WriteString(Algorithm, Convert.ToHexStringLower(file.Sha256));
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteStartObject("tensors");
            foreach (var (name, digest) in tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
                json.WriteString(name, Convert.ToHexStringLower(digest));
            json.WriteEndObject();
            json.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    static CheckpointManifest Parse(byte[] json)
    {
        using JsonDocument document = JsonDocument.Parse(json);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidOperationException("the top level must be a JSON object");
        if (!root.TryGetProperty("format", out JsonElement format) || !format.TryGetInt32(out int version) || version != FormatVersion)
            throw new InvalidOperationException($"\"format\" must be {FormatVersion}");
        if (!root.TryGetProperty("algorithm", out JsonElement algorithm) || algorithm.GetString() != Algorithm)
            throw new InvalidOperationException($"\"algorithm\" must be \"{Algorithm}\"");

        var files = new Dictionary<string, FileDigest>(StringComparer.Ordinal);
        foreach (JsonProperty file in Section(root, "files").EnumerateObject())
        {
            if (file.Name.Length == 0 || file.Name != Path.GetFileName(file.Name))
                throw new InvalidOperationException($"file \"{file.Name}\" must be a plain file name in the checkpoint directory");
            if (file.Value.ValueKind != JsonValueKind.Object
                || !file.Value.TryGetProperty("bytes", out JsonElement bytes) || !bytes.TryGetInt64(out long length) || length < 0
                || !file.Value.TryGetProperty(Algorithm, out JsonElement sha))
                throw new InvalidOperationException($"file \"{file.Name}\" needs \"bytes\" (a non-negative integer) and \"{Algorithm}\"");
            files.Add(file.Name, new FileDigest(length, Hex(file.Name, sha)));
        }

        var tensors = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (JsonProperty tensor in Section(root, "tensors").EnumerateObject())
            tensors.Add(tensor.Name, Hex(tensor.Name, tensor.Value));
        if (tensors.Count == 0) throw new InvalidOperationException("\"tensors\" lists no tensor");
        return new CheckpointManifest(files, tensors, Convert.ToHexStringLower(SHA256.HashData(json)));

        static JsonElement Section(JsonElement root, string name) =>
            root.TryGetProperty(name, out JsonElement section) && section.ValueKind == JsonValueKind.Object
                ? section
                : throw new InvalidOperationException($"\"{name}\" must be an object");
    }

    static byte[] Hex(string name, JsonElement value)
    {
        string? text = value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        if (text is not { Length: 2 * SHA256.HashSizeInBytes } || !text.All(char.IsAsciiHexDigit))
            throw new InvalidOperationException($"the digest of \"{name}\" must be {2 * SHA256.HashSizeInBytes} hex digits");
        return Convert.FromHexString(text);
    }
}

/// <summary>One file's size and SHA-256 in a <see cref="CheckpointManifest"/>.</summary>
public sealed record FileDigest(long Bytes, byte[] Sha256);
