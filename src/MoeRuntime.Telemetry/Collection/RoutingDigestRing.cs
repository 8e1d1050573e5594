namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// A bounded ring of <see cref="RoutingDigestRecord"/>s: many threads add without a lock or an
/// allocation, one collector drains. When writers lap the collector the oldest records are
/// overwritten and counted, so a flood of tokens costs detail, never memory or latency.
/// </summary>
public sealed class RoutingDigestRing
{
    private struct Slot
    {
        // The sequence number of the record in the slot; -1 while a writer fills it.
        public long Sequence;
        public ulong RequestHash;
        public ulong Digest;
        public int Layer;
        public int TokenPosition;
    }

    private readonly Slot[] _slots;
    private readonly long _mask;
    private long _nextWrite;
    private long _nextRead;

    /// <summary>Creates a ring holding <paramref name="capacity"/> records (a power of two).</summary>
    public RoutingDigestRing(int capacity)
    {
        if (capacity < 1 || (capacity & (capacity - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "Capacity must be a power of two.");
        _slots = new Slot[capacity];
        for (var i = 0; i < capacity; i++) _slots[i].Sequence = -1;
        _mask = capacity - 1;
    }

    /// <summary>Records the ring overwrote before the collector drained them.</summary>
    public long Overwritten { get; private set; }

    /// <summary>Adds one record. Lock-free and allocation-free.</summary>
    public void Add(ulong requestHash, int layer, int tokenPosition, ulong digest)
    {
        var sequence = Interlocked.Increment(ref _nextWrite) - 1;
        ref var slot = ref _slots[sequence & _mask];
        // A full fence: the reader must never see the new fields under the old sequence number.
        Interlocked.Exchange(ref slot.Sequence, -1);
        slot.RequestHash = requestHash;
        slot.Digest = digest;
        slot.Layer = layer;
        slot.TokenPosition = tokenPosition;
        Volatile.Write(ref slot.Sequence, sequence);
    }

    /// <summary>
    /// Moves up to <paramref name="maxRecords"/> published records, oldest first, into
    /// <paramref name="into"/>. Stops at a record a writer is still filling and resumes there next
    /// time. Only one thread may drain at a time.
    /// </summary>
    public void Drain(List<RoutingDigestRecord> into, int maxRecords)
    {
        var end = Volatile.Read(ref _nextWrite);
        var capacity = _slots.Length;
        if (end - _nextRead > capacity)
        {
            Overwritten += end - capacity - _nextRead;
            _nextRead = end - capacity;
        }

        var taken = 0;
        while (_nextRead < end && taken < maxRecords)
        {
            var sequence = _nextRead;
            ref var slot = ref _slots[sequence & _mask];
            var before = Volatile.Read(ref slot.Sequence);
            // Older (or -1): a writer has claimed this record but not published it yet. Wait for the
            // next drain rather than lose it; if writers lap it meanwhile, the check above skips it.
            if (before < sequence) break;
            if (before > sequence)
            {
                Overwritten++;
                _nextRead++;
                continue;
            }
            var record = new RoutingDigestRecord(slot.RequestHash, slot.Layer, slot.TokenPosition, slot.Digest);
            Interlocked.MemoryBarrier();
            if (Volatile.Read(ref slot.Sequence) == sequence)
            {
                into.Add(record);
                taken++;
            }
            else Overwritten++;
            _nextRead++;
        }
    }
}
