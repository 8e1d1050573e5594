using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// One sequence's keys and values for every layer. Buffers grow by doubling so that a decode step
/// writes one row in place instead of concatenating the whole history, up to the cache's length and no further:
/// a full cache holds <c>length × layers × kv heads × head dim × 2 × 4</c> bytes (float32), see <see cref="BytesFor"/>.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly LayerCache[] _layers;
    readonly int _maxLength;

    public KvCache(int layerCount, int keyValueHeads, int headDimension, int maxLength, Device device)
    {
        _maxLength = maxLength;
        _layers = new LayerCache[layerCount];
        for (int i = 0; i < layerCount; i++) _layers[i] = new LayerCache(keyValueHeads, headDimension, maxLength, device);
    }

    /// <summary>Bytes a cache of <paramref name="positions"/> positions holds at most: what admission reserves for a sequence.</summary>
    public static long BytesFor(Configuration.ModelConfig config, int positions) =>
        (long)positions * config.LayerCount * config.KeyValueHeadCount * config.HeadDimension * 2 * sizeof(float);

    /// <summary>Positions already cached: the next token's position.</summary>
    public int Length { get; private set; }

    /// <summary>Bytes the buffers hold (capacity, not only the used rows).</summary>
    public long Bytes => _layers.Sum(l => l.Bytes);

    /// <summary>
    /// Appends <paramref name="keys"/> and <paramref name="values"/> [tokens, kvHeads, headDim] to a layer
    /// and returns views over all cached positions [1, kvHeads, length, headDim].
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        int added = (int)keys.shape[0];
        if (Length + added > _maxLength)
            throw new InvalidOperationException($"sequence of {Length + added} positions exceeds the model's {_maxLength}");
        return _layers[layer].Append(Length, added, keys, values);
    }

    /// <summary>Commits the positions every layer appended during one forward pass.</summary>
    public void Advance(int tokens) => Length += tokens;

    public void Dispose()
    {
        foreach (LayerCache layer in _layers) layer.Dispose();
    }

    sealed class LayerCache(int heads, int headDimension, int maxLength, Device device) : IDisposable
    {
        Tensor? _keys;
        Tensor? _values;

        public long Bytes => _keys is null ? 0 : 2 * _keys.NumberOfElements * _keys.ElementSize;

        public (Tensor, Tensor) Append(int start, int added, Tensor keys, Tensor values)
        {
            // The buffers are made and updated in inference mode only, whoever calls.
            using IDisposable mode = Inference.Enter();
            EnsureCapacity(start, start + added);
            // Temporaries here belong to the caller's dispose scope (the forward pass).
            _keys!.narrow(1, start, added).copy_(keys.transpose(0, 1));
            _values!.narrow(1, start, added).copy_(values.transpose(0, 1));
            int length = start + added;
            return (_keys.narrow(1, 0, length).unsqueeze(0), _values.narrow(1, 0, length).unsqueeze(0));
        }

        void EnsureCapacity(int used, int needed)
        {
            long capacity = _keys?.shape[1] ?? 0;
            if (needed <= capacity) return;
            // Never past the cache's length, so a cache's bytes stay within what admission reserved for it.
            long grown = Math.Min(maxLength, Math.Max(needed, Math.Max(16, capacity * 2)));
            _keys = Grow(_keys, used, grown);
            _values = Grow(_values, used, grown);
        }

        Tensor Grow(Tensor? old, int used, long capacity)
        {
            // The buffer outlives the forward pass that grows it.
            Tensor buffer = zeros([heads, capacity, headDimension], ScalarType.Float32, device).DetachFromDisposeScope();
            if (old is not null)
            {
                using Tensor target = buffer.narrow(1, 0, used);
                using Tensor source = old.narrow(1, 0, used);
                target.copy_(source);
                old.Dispose();
            }
            return buffer;
        }

        public void Dispose()
        {
            _keys?.Dispose();
            _values?.Dispose();
        }
    }
}
