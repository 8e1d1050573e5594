using System.Diagnostics;

namespace MoeRuntime.Serving.Tiers;

/// <summary>What the hot budget needs to know of one holding to choose what to evict.</summary>
interface IHotHolding
{
    /// <summary>Bytes the holding takes when hot.</summary>
    long HotBytes { get; }

    /// <summary>Store clock at its last use; the smallest is evicted first.</summary>
    long LastUsed { get; }

    /// <summary>Hot, not assigned hot by the TierSet, and not leased: the only kind eviction may take.</summary>
    bool IsEvictable { get; }
}

/// <summary>
/// The hot tier's byte accounting for one <see cref="ExpertTierStore"/>: reservations against the cap (the current
/// budget), eviction of unleased transient copies least recently used first, the bytes the TierSet assigns hot, and
/// the signal that wakes whoever waits for room.
/// </summary>
/// <remarks>
/// <para><b>The store's lock.</b> One lock (the <c>gate</c> passed in) guards everything an
/// <see cref="ExpertTierStore"/> holds: this budget's counters and room signal, the warm tier's counters, the set of
/// registered experts, every mutable field of each expert (hot copy, warm bytes, leases, assignment, last use) and of
/// each fetch in flight, and the applied TierSet. Nothing else in the store takes a lock while holding it, except
/// that registration takes its own lock first and the gate inside it, never the other way round.</para>
/// <para><b>Called under the lock.</b> Every member of this type, and only under the lock: the type has no lock of its
/// own and asserts (in debug builds) that the caller holds the gate. Under the lock the store may also read and
/// write the fields above, dispose a hot copy (freeing its tensors: no I/O), bump counters, and complete the room
/// signal, whose continuations run asynchronously so no waiter resumes on the locking thread. The eviction callback
/// handed to <see cref="TryReserve"/> and <see cref="EvictToCap"/> runs under the lock too and must keep to the same
/// list; it must give the evicted bytes back through <see cref="Release"/>.</para>
/// <para><b>Never under the lock.</b> No checkpoint reads, no SHA-256, no conversion of bytes to tensors, no
/// <c>await</c> and no blocking wait, and no completion of a fetch's <c>Done</c> (its continuations would otherwise
/// see a half-updated store). Work of that kind reserves its bytes under the lock, leaves it, does the work, then
/// takes the lock again to install the result or give the bytes back. Whoever finds no room takes
/// <see cref="RoomFreed"/> under the lock and awaits it after leaving.</para>
/// <para><b>Invariants.</b> Reservations fill the tier up to the cap. Holdings exceed the cap only after a TierSet
/// shrank it, until the leases on the excess are released; they never exceed the larger earlier budget. Leased and
/// assigned-hot experts are never evicted: only holdings with <see cref="IHotHolding.IsEvictable"/>.</para>
/// </remarks>
sealed class HotTierBudget<T>
    where T : class, IHotHolding
{
    readonly Lock _gate;
    readonly IEnumerable<T> _holdings;
    long _used, _cap, _highWater, _assigned;
    TaskCompletionSource? _roomFreed;

    /// <param name="gate">The store's lock, held by every caller.</param>
    /// <param name="holdings">A live view of everything that may hold hot bytes: what eviction chooses from.</param>
    /// <param name="cap">The hot budget in bytes.</param>
    public HotTierBudget(Lock gate, IEnumerable<T> holdings, long cap)
    {
        ArgumentNullException.ThrowIfNull(holdings);
        ArgumentOutOfRangeException.ThrowIfNegative(cap);
        _gate = gate ?? throw new ArgumentNullException(nameof(gate));
        _holdings = holdings;
        _cap = cap;
    }

    /// <summary>Hot bytes held or reserved.</summary>
    public long Used
    {
        get
        {
            AssertLocked();
            return _used;
        }
    }

    /// <summary>The current hot budget.</summary>
    public long Cap
    {
        get
        {
            AssertLocked();
            return _cap;
        }
        set
        {
            AssertLocked();
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            _cap = value;
        }
    }

    /// <summary>The most hot bytes ever held or reserved at once.</summary>
    public long HighWater
    {
        get
        {
            AssertLocked();
            return _highWater;
        }
    }

    /// <summary>Hot bytes of the experts assigned hot (by the TierSet or a registration).</summary>
    public long Assigned
    {
        get
        {
            AssertLocked();
            return _assigned;
        }
    }

    /// <summary>Whether experts assigned hot, <paramref name="alreadyAssigned"/> bytes of them not counted, leave room for <paramref name="bytes"/> more.</summary>
    public bool AssignmentFits(long bytes, long alreadyAssigned = 0)
    {
        AssertLocked();
        return _assigned - alreadyAssigned + bytes <= _cap;
    }

    /// <summary>Counts <paramref name="bytes"/> into (positive) or out of (negative) the bytes assigned hot.</summary>
    public void AddAssigned(long bytes)
    {
        AssertLocked();
        _assigned += bytes;
    }

    /// <summary>
    /// Reserves <paramref name="bytes"/>, evicting evictable holdings least recently used first through
    /// <paramref name="evict"/>, but only when that makes enough room: otherwise evicts nothing and returns false.
    /// </summary>
    public bool TryReserve(long bytes, Action<T> evict)
    {
        AssertLocked();
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        if (_used + bytes > _cap)
        {
            long evictable = 0;
            foreach (var holding in _holdings)
                if (holding.IsEvictable) evictable += holding.HotBytes;
            if (_used - evictable + bytes > _cap) return false;
            while (_used + bytes > _cap) Evict(LeastRecentlyUsedEvictable()!, evict);
        }
        _used += bytes;
        _highWater = Math.Max(_highWater, _used);
        return true;
    }

    /// <summary>Evicts evictable holdings, least recently used first, until holdings fit the cap; false if they still do not.</summary>
    public bool EvictToCap(Action<T> evict)
    {
        AssertLocked();
        while (_used > _cap && LeastRecentlyUsedEvictable() is { } victim) Evict(victim, evict);
        return _used <= _cap;
    }

    /// <summary>The evictable holding used least recently, or null when nothing may be evicted.</summary>
    public T? LeastRecentlyUsedEvictable()
    {
        AssertLocked();
        T? oldest = null;
        foreach (var holding in _holdings)
            if (holding.IsEvictable && (oldest is null || holding.LastUsed < oldest.LastUsed)) oldest = holding;
        return oldest;
    }

    /// <summary>Gives back <paramref name="bytes"/> held or reserved and wakes whoever waits for room.</summary>
    public void Release(long bytes)
    {
        AssertLocked();
        _used -= bytes;
        SignalRoom();
    }

    /// <summary>Forgets every holding (the store freed them all) and wakes every waiter.</summary>
    public void Clear()
    {
        AssertLocked();
        _used = 0;
        SignalRoom();
    }

    /// <summary>Completes when room may have been freed; take it under the lock, await it after leaving.</summary>
    public Task RoomFreed()
    {
        AssertLocked();
        return (_roomFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
    }

    /// <summary>Wakes everything waiting for hot room to look again.</summary>
    public void SignalRoom()
    {
        AssertLocked();
        var roomFreed = _roomFreed;
        if (roomFreed is null) return;
        _roomFreed = null;
        roomFreed.SetResult();
    }

    static void Evict(T victim, Action<T> evict)
    {
        evict(victim);
        Debug.Assert(!victim.IsEvictable, "the eviction callback must drop the hot copy and give its bytes back through Release");
    }

    [Conditional("DEBUG")]
    void AssertLocked() => Debug.Assert(_gate.IsHeldByCurrentThread, "the store's lock must be held");
}
