namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// A gauge series registered once on a <see cref="RankCollector"/>: a double kept as its bits in a
/// preallocated slot, set with a volatile write and moved with a compare-and-swap loop.
/// </summary>
public readonly struct GaugeHandle
{
    private readonly long[] _slots;
    private readonly int _index;

    internal GaugeHandle(long[] slots, int index)
    {
        _slots = slots;
        _index = index;
    }

    /// <summary>Replaces the value.</summary>
    public void Set(double value) => Volatile.Write(ref _slots[_index], BitConverter.DoubleToInt64Bits(value));

    /// <summary>Moves the value by <paramref name="delta"/> (e.g. +1/−1 for requests in flight).</summary>
    public void Add(double delta)
    {
        ref var slot = ref _slots[_index];
        var seen = Volatile.Read(ref slot);
        while (true)
        {
            var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + delta);
            var found = Interlocked.CompareExchange(ref slot, next, seen);
            if (found == seen) return;
            seen = found;
        }
    }

    /// <summary>The current value.</summary>
    public double Value => BitConverter.Int64BitsToDouble(Volatile.Read(ref _slots[_index]));
}
