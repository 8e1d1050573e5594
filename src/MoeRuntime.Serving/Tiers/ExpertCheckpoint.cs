using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using TorchSharp;

namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// A checkpoint seen one expert at a time: where each expert's bytes are, reading them raw, and turning raw bytes
/// into the float32 expert that <see cref="MoeModelAssembler.LoadExpert"/> would build. Reads may run concurrently.
/// </summary>
public sealed class ExpertCheckpoint : IDisposable
{
    readonly CheckpointTensorNames _names;

    ExpertCheckpoint(string model, ModelConfig config, SafetensorsCheckpoint tensors, CheckpointManifest? manifest)
    {
        Model = model;
        Config = config;
        Tensors = tensors;
        Manifest = manifest;
        _names = new CheckpointTensorNames(config.Architecture);
    }

    /// <summary>The model name expert keys carry.</summary>
    public string Model { get; }

    public ModelConfig Config { get; }

    /// <summary>The underlying checkpoint; its <see cref="SafetensorsCheckpoint.BytesRead"/> counts every expert read.</summary>
    public SafetensorsCheckpoint Tensors { get; }

    /// <summary>
    /// The checkpoint's SHA-256 manifest (<see cref="CheckpointManifest.FileName"/>), or null when it has none: then
    /// each expert's reference digests are taken from its bytes at registration.
    /// </summary>
    public CheckpointManifest? Manifest { get; }

    /// <summary>
    /// Opens a checkpoint directory and its manifest, if any; <paramref name="model"/> defaults to the directory's name.
    /// </summary>
    /// <exception cref="CheckpointException">
    /// The checkpoint cannot be read, or its manifest is malformed or does not describe it (other tensors, a listed file
    /// missing or of another size).
    /// </exception>
    public static ExpertCheckpoint Open(string checkpointDirectory, string? model = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointDirectory);
        ModelConfig config = ModelConfigJson.Load(checkpointDirectory);
        var tensors = SafetensorsCheckpoint.Open(checkpointDirectory);
        try
        {
            CheckpointManifest? manifest = CheckpointManifest.Load(checkpointDirectory);
            manifest?.CheckCovers(tensors);
            return new ExpertCheckpoint(model ?? Path.GetFileName(tensors.Directory), config, tensors, manifest);
        }
        catch
        {
            tensors.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What a rank checks at start-up against the manifest, hashing as it reads (nothing when there is no manifest): every
    /// tensor that is not an expert's (embeddings, attention, gates, norms, head, shared experts — what every request
    /// needs) and every file other than the safetensors shards (config, tokenizer, index), whole. Experts are checked
    /// when the rank registers them. Returns the tensors and files that differ; empty when all match.
    /// </summary>
    public IReadOnlyList<string> VerifyDense()
    {
        if (Manifest is null) return [];
        var experts = new HashSet<string>(StringComparer.Ordinal);
        for (int l = 0; l < Config.LayerCount; l++)
            for (int e = 0; e < Config.ExpertCount; e++)
            {
                var (w1, w2, w3) = _names.Expert(l, e);
                experts.UnionWith([w1, w2, w3]);
            }
        var problems = new List<string>();
        byte[] buffer = CheckpointManifest.NewHashBuffer();
        foreach (TensorEntry entry in Tensors.Tensors.Values.Where(t => !experts.Contains(t.Name)).OrderBy(t => t.Name, StringComparer.Ordinal))
            if (!Manifest.TensorMatches(Tensors, entry, buffer)) problems.Add($"tensor {entry.Name} in {entry.File}");
        foreach (string file in Manifest.Files.Keys.Where(f => !f.EndsWith(".safetensors", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
            if (!Manifest.FileMatches(Tensors.Directory, file)) problems.Add($"file {Path.Combine(Tensors.Directory, file)}");
        return problems;
    }

    /// <summary>The byte ranges of <paramref name="key"/>'s three tensors, their shapes checked against the config.</summary>
    /// <exception cref="ArgumentException">The key names another model.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The model has no such layer or expert.</exception>
    /// <exception cref="CheckpointException">A tensor is missing or has another shape.</exception>
    public ExpertTensors Locate(ExpertKey key)
    {
        if (key.Model != Model)
            throw new ArgumentException($"expert {key} belongs to another model than this checkpoint's {Model}", nameof(key));
        if ((uint)key.Layer >= (uint)Config.LayerCount || (uint)key.Expert >= (uint)Config.ExpertCount)
            throw new ArgumentOutOfRangeException(
                nameof(key), $"expert {key} does not exist in a model of {Config.LayerCount} layers x {Config.ExpertCount} experts");
        var (w1, w2, w3) = _names.Expert(key.Layer, key.Expert);
        long h = Config.HiddenSize, i = Config.ExpertIntermediateSize;
        var expert = new ExpertTensors(key, Entry(w1, [i, h]), Entry(w2, [h, i]), Entry(w3, [i, h]));
        if (expert.WarmBytes > Array.MaxLength)
            throw new CheckpointException(Tensors.Directory, w1, $"expert {key} holds {expert.WarmBytes} bytes, more than one array can");
        return expert;
    }

    /// <summary>Reads the expert's raw bytes (w1, w2, w3 as stored) into a new array.</summary>
    public byte[] ReadBytes(ExpertTensors expert)
    {
        ArgumentNullException.ThrowIfNull(expert);
        byte[] raw = GC.AllocateUninitializedArray<byte>((int)expert.WarmBytes);
        Span<byte> rest = raw;
        foreach (TensorEntry entry in (ReadOnlySpan<TensorEntry>)[expert.W1, expert.W2, expert.W3])
        {
            Tensors.ReadBytes(entry, rest[..(int)entry.Length]);
            rest = rest[(int)entry.Length..];
        }
        return raw;
    }

    /// <summary>Builds the float32 expert on <paramref name="device"/> from raw bytes as <see cref="ReadBytes"/> returns them.</summary>
    public static ExpertFfn ToExpertFfn(ExpertTensors expert, ReadOnlySpan<byte> raw, torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(expert);
        if (raw.Length != expert.WarmBytes)
            throw new ArgumentException($"expert {expert.Key} has {expert.WarmBytes} raw bytes; {raw.Length} were given", nameof(raw));
        int w2Start = (int)expert.W1.Length, w3Start = w2Start + (int)expert.W2.Length;
        using torch.Tensor w1 = Stored(expert.W1, raw[..w2Start]);
        using torch.Tensor w2 = Stored(expert.W2, raw[w2Start..w3Start]);
        using torch.Tensor w3 = Stored(expert.W3, raw[w3Start..]);
        return ExpertFfn.FromProjections(w1, w2, w3, device);
    }

    public void Dispose() => Tensors.Dispose();

    TensorEntry Entry(string name, long[] shape)
    {
        TensorEntry entry = Tensors.Entry(name);
        if (!entry.Shape.AsSpan().SequenceEqual(shape))
            throw new CheckpointException(entry.File, name, $"has shape [{string.Join(", ", entry.Shape)}], expected [{string.Join(", ", shape)}]");
        return entry;
    }

    /// <summary>A CPU tensor of the stored dtype holding <paramref name="bytes"/> bit for bit.</summary>
    static torch.Tensor Stored(TensorEntry entry, ReadOnlySpan<byte> bytes)
    {
        torch.Tensor tensor = torch.empty(entry.Shape, entry.DType.ToScalarType());
        bytes.CopyTo(tensor.bytes);
        return tensor;
    }
}
