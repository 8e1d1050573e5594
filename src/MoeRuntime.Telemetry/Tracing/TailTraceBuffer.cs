namespace MoeRuntime.Telemetry.Tracing;

/// <summary>What <see cref="TailTraceBuffer{TKey, TSpan}.Add"/> did with a span.</summary>
public enum TailSpanFate
{
    /// <summary>Held until its request's outcome is known.</summary>
    Buffered,
    /// <summary>Its request was already kept: export it now.</summary>
    Keep,
    /// <summary>Its request was already discarded, or the buffer had no room: drop it.</summary>
    Drop,
}

/// <summary>
/// The spans of requests whose trace head sampling did not pick, held per request until the request ends and its
/// outcome decides (the tail decision): a failed or slow request's spans are exported, the rest discarded. Bounded:
/// at most <paramref name="maxTraces"/> requests and <paramref name="maxSpansPerTrace"/> spans each; when full, the
/// oldest request's spans make room, and every span dropped for room is counted. A decision is remembered for the
/// last <paramref name="maxTraces"/> requests, so a span that ends after its request follows the decision.
/// Thread-safe.
/// </summary>
public sealed class TailTraceBuffer<TKey, TSpan>(int maxTraces, int maxSpansPerTrace)
    where TKey : notnull
{
    readonly object _lock = new();
    readonly Dictionary<TKey, Pending> _pending = [];
    readonly Dictionary<TKey, bool> _decided = [];
    readonly Queue<TKey> _decidedOrder = new();
    long _arrivals;

    /// <summary>Spans dropped because their request had no room (over the per-request cap, or evicted when full).</summary>
    public long DroppedSpans { get; private set; }

    /// <summary>Requests whose spans were exported after they failed or ran slow.</summary>
    public long KeptTraces { get; private set; }

    /// <summary>Requests whose spans were discarded after they ended well.</summary>
    public long DiscardedTraces { get; private set; }

    /// <summary>Requests with spans held now.</summary>
    public int BufferedTraces
    {
        get { lock (_lock) return _pending.Count; }
    }

    /// <summary>Holds a span of request <paramref name="trace"/>, or says what to do with it if the request is decided or there is no room.</summary>
    public TailSpanFate Add(TKey trace, TSpan span)
    {
        lock (_lock)
        {
            if (_decided.TryGetValue(trace, out bool kept)) return kept ? TailSpanFate.Keep : TailSpanFate.Drop;
            if (!_pending.TryGetValue(trace, out Pending? pending))
            {
                if (_pending.Count >= maxTraces) EvictOldest();
                _pending[trace] = pending = new Pending(_arrivals++);
            }
            if (pending.Spans.Count >= maxSpansPerTrace)
            {
                DroppedSpans++;
                return TailSpanFate.Drop;
            }
            pending.Spans.Add(span);
            return TailSpanFate.Buffered;
        }
    }

    /// <summary>
    /// Decides request <paramref name="trace"/>: its held spans, oldest first, to export if <paramref name="keep"/>
    /// (empty otherwise); spans of it that end later follow the same decision.
    /// </summary>
    public IReadOnlyList<TSpan> Decide(TKey trace, bool keep)
    {
        lock (_lock)
        {
            List<TSpan> spans = _pending.Remove(trace, out Pending? pending) ? pending.Spans : [];
            if (keep) KeptTraces++;
            else DiscardedTraces++;
            if (_decided.TryAdd(trace, keep))
            {
                _decidedOrder.Enqueue(trace);
                if (_decidedOrder.Count > maxTraces) _decided.Remove(_decidedOrder.Dequeue());
            }
            return keep ? spans : [];
        }
    }

    void EvictOldest()
    {
        if (_pending.Count == 0) return;
        TKey oldest = default!;
        long first = long.MaxValue;
        foreach (var (key, pending) in _pending)
            if (pending.Arrival < first) (oldest, first) = (key, pending.Arrival);
        DroppedSpans += _pending[oldest].Spans.Count;
        _pending.Remove(oldest);
    }

    sealed class Pending(long arrival)
    {
        public long Arrival { get; } = arrival;
        public List<TSpan> Spans { get; } = [];
    }
}
