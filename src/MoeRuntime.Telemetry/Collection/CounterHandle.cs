namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// A counter series registered once on a <see cref="RankCollector"/>. <see cref="Add"/> is one
/// Interlocked add on a preallocated slot: no lock, no allocation, safe from any thread.
/// </summary>
public readonly struct CounterHandle
{
    private readonly long[] _slots;
    private readonly int _index;

    internal CounterHandle(long[] slots, int index)
    {
        _slots = slots;
        _index = index;
    }

    /// <summary>Adds <paramref name="amount"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="amount"/> is negative: counters only go up, and a
    /// negative delta would be refused much later, by Prometheus, far from the defect that made it.</exception>
    public void Add(long amount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(amount);
        Interlocked.Add(ref _slots[_index], amount);
    }

    /// <summary>Adds one.</summary>
    public void Increment() => Interlocked.Increment(ref _slots[_index]);

    /// <summary>The running total since the collector started.</summary>
    public long Value => Volatile.Read(ref _slots[_index]);
}
