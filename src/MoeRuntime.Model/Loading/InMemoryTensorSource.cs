using static TorchSharp.torch;

namespace MoeRuntime.Model.Loading;

/// <summary>Named tensors held in memory: weights generated in process, or test fixtures.</summary>
public sealed class InMemoryTensorSource : ITensorSource, IDisposable
{
    readonly Dictionary<string, Tensor> _tensors = new(StringComparer.Ordinal);

    public IReadOnlyDictionary<string, Tensor> Tensors => _tensors;

    /// <summary>Adds a tensor; the source owns it from now on.</summary>
    public void Add(string name, Tensor tensor) => _tensors.Add(name, tensor.DetachFromDisposeScope());

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public IEnumerable<string> Names => _tensors.Keys;

    public Tensor Read(string name, long[] expectedShape)
    {
        if (!_tensors.TryGetValue(name, out Tensor? t)) throw new KeyNotFoundException($"tensor '{name}' is missing");
        if (!t.shape.SequenceEqual(expectedShape))
            throw new InvalidDataException($"tensor '{name}' has shape [{string.Join(", ", t.shape)}], expected [{string.Join(", ", expectedShape)}]");
        return t.to(ScalarType.Float32, copy: true);
    }

    public void Dispose()
    {
        foreach (Tensor t in _tensors.Values) t.Dispose();
    }
}
