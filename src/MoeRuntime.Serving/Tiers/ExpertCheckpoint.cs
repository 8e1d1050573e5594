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

    ExpertCheckpoint(string model, ModelConfig config, SafetensorsCheckpoint tensors)
    {
        Model = model;
        Config = config;
        Tensors = tensors;
        _names = new CheckpointTensorNames(config.Architecture);
    }

    /// <summary>The model name expert keys carry.</summary>
    public string Model { get; }

    public ModelConfig Config { get; }

    /// <summary>The underlying checkpoint; its <see cref="SafetensorsCheckpoint.BytesRead"/> counts every expert read.</summary>
    public SafetensorsCheckpoint Tensors { get; }

    /// <summary>Opens a checkpoint directory; <paramref name="model"/> defaults to the directory's name.</summary>
    public static ExpertCheckpoint Open(string checkpointDirectory, string? model = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointDirectory);
        ModelConfig config = ModelConfigJson.Load(checkpointDirectory);
        var tensors = SafetensorsCheckpoint.Open(checkpointDirectory);
        return new ExpertCheckpoint(model ?? Path.GetFileName(tensors.Directory), config, tensors);
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
