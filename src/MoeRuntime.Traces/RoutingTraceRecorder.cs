namespace MoeRuntime.Traces;

/// <summary>
/// Turns the routing of one batch at one layer (what a dispatcher sees) into trace records: one per
/// run of rows from the same request, with the request key replaced by a pseudonym. Steps are counted
/// here: a call for a layer at or below the previous call's layer starts a new step, so one recorder
/// serves one batching loop. Costs nothing unless installed; see <see cref="RecordingExpertDispatcher"/>.
/// </summary>
public sealed class RoutingTraceRecorder(RoutingTraceWriter writer, RequestPseudonyms? pseudonyms = null) : IAsyncDisposable
{
    const int MaxCachedPseudonyms = 4096;
    readonly RequestPseudonyms _pseudonyms = pseudonyms ?? new RequestPseudonyms();
    readonly Dictionary<ulong, ulong> _cache = [];
    readonly Lock _lock = new();
    long _step = -1;
    int _lastLayer = int.MaxValue;
    long[] _positions = new long[64];
    int[] _experts = new int[128];
    float[] _weights = new float[128];

    public RoutingTraceWriter Writer { get; } = writer;
    /// <summary>Steps seen so far.</summary>
    public long Steps => Interlocked.Read(ref _step) + 1;

    /// <summary>
    /// Records one layer's routing for a batch: <paramref name="chosenExperts"/> and <paramref name="chosenWeights"/>
    /// hold <paramref name="topK"/> entries per row; <paramref name="requests"/> and <paramref name="positions"/>
    /// name each row (when they do not match the row count, rows are recorded under one anonymous request
    /// at their row index).
    /// </summary>
    public void Record(int layer, int topK, IReadOnlyList<int> chosenExperts, IReadOnlyList<float> chosenWeights,
        ReadOnlySpan<ulong> requests, ReadOnlySpan<long> positions)
    {
        if (topK < 1) return;
        int rows = chosenExperts.Count / topK;
        if (rows == 0) return;
        bool named = requests.Length == rows && positions.Length == rows;
        lock (_lock)
        {
            if (layer <= _lastLayer) Interlocked.Increment(ref _step);
            _lastLayer = layer;
            ReadOnlySpan<int> experts = chosenExperts is int[] e ? e : Copy(chosenExperts, ref _experts);
            ReadOnlySpan<float> weights = chosenWeights.Count != chosenExperts.Count ? [] : chosenWeights is float[] w ? w : Copy(chosenWeights, ref _weights);
            int start = 0;
            while (start < rows)
            {
                ulong request = named ? requests[start] : 0;
                int end = start + 1;
                while (end < rows && (!named || requests[end] == request)) end++;
                int count = end - start;
                if (_positions.Length < count) _positions = new long[Math.Max(count, _positions.Length * 2)];
                for (int r = 0; r < count; r++) _positions[r] = named ? positions[start + r] : start + r;
                Writer.Write(_step, Pseudonym(request), layer, _positions.AsSpan(0, count), topK,
                    experts.Slice(start * topK, count * topK), weights.IsEmpty ? [] : weights.Slice(start * topK, count * topK));
                start = end;
            }
        }
    }

    ulong Pseudonym(ulong request)
    {
        if (_cache.TryGetValue(request, out ulong id)) return id;
        if (_cache.Count >= MaxCachedPseudonyms) _cache.Clear();
        return _cache[request] = _pseudonyms.Of(request);
    }

    static ReadOnlySpan<T> Copy<T>(IReadOnlyList<T> source, ref T[] scratch)
    {
        if (scratch.Length < source.Count) scratch = new T[Math.Max(source.Count, scratch.Length * 2)];
        for (int i = 0; i < source.Count; i++) scratch[i] = source[i];
        return scratch.AsSpan(0, source.Count);
    }

    public ValueTask DisposeAsync() => Writer.DisposeAsync();
}
