namespace MoeRuntime.Telemetry.Sketches;

/// <summary>
/// The hot-path side of a sketch: many threads <see cref="Record"/> into preallocated buckets with
/// Interlocked operations (no lock, no allocation), and one collector thread takes
/// <see cref="TakeDelta"/> snapshots. Each bucket is swapped to zero atomically, so a concurrent
/// record lands in exactly one snapshot: none is lost or counted twice.
/// </summary>
public sealed class ConcurrentSketchRecorder
{
    private static readonly long PositiveInfinityBits = BitConverter.DoubleToInt64Bits(double.PositiveInfinity);
    private static readonly long NegativeInfinityBits = BitConverter.DoubleToInt64Bits(double.NegativeInfinity);

    private readonly long[] _buckets;
    private long _zeroCount;
    private long _underflow;
    private long _overflow;
    private long _sumBits;
    private long _minBits = PositiveInfinityBits;
    private long _maxBits = NegativeInfinityBits;

    /// <summary>Creates a recorder with the given bucket mapping.</summary>
    public ConcurrentSketchRecorder(SketchLayout layout)
    {
        Layout = layout;
        _buckets = new long[layout.BucketCount];
    }

    /// <summary>The bucket mapping of the snapshots.</summary>
    public SketchLayout Layout { get; }

    /// <summary>Records one value. Lock-free and allocation-free; NaN is ignored.</summary>
    public void Record(double value)
    {
        if (double.IsNaN(value)) return;
        // Totals first, bucket last: a snapshot that sees the bucket also sees this record's totals,
        // or an earlier snapshot took them (a delta with a sum but no count: merged all the same).
        // No value is lost either way; only which interval carries its sum can shift by one.
        AddToSum(value);
        LowerMin(value);
        RaiseMax(value);
        if (value <= 0)
        {
            Interlocked.Increment(ref _zeroCount);
            return;
        }
        if (value < Layout.MinValue) Interlocked.Increment(ref _underflow);
        else if (value > Layout.MaxValue) Interlocked.Increment(ref _overflow);
        Interlocked.Increment(ref _buckets[Layout.OffsetOf(value)]);
    }

    /// <summary>Everything recorded since the previous call, as a new sketch; the recorder restarts from empty.</summary>
    public RelativeErrorSketch TakeDelta()
    {
        var delta = new RelativeErrorSketch(Layout);
        var target = delta.WritableBuckets;
        for (var i = 0; i < _buckets.Length; i++)
        {
            if (Volatile.Read(ref _buckets[i]) != 0) target[i] = Interlocked.Exchange(ref _buckets[i], 0);
        }
        var zero = Interlocked.Exchange(ref _zeroCount, 0);
        var underflow = Interlocked.Exchange(ref _underflow, 0);
        var overflow = Interlocked.Exchange(ref _overflow, 0);
        var sum = BitConverter.Int64BitsToDouble(Interlocked.Exchange(ref _sumBits, 0));
        var min = BitConverter.Int64BitsToDouble(Interlocked.Exchange(ref _minBits, PositiveInfinityBits));
        var max = BitConverter.Int64BitsToDouble(Interlocked.Exchange(ref _maxBits, NegativeInfinityBits));
        delta.SetTotals(zero, underflow, overflow, sum, min, max);
        return delta;
    }

    private void AddToSum(double value)
    {
        var seen = Volatile.Read(ref _sumBits);
        while (true)
        {
            var next = BitConverter.DoubleToInt64Bits(BitConverter.Int64BitsToDouble(seen) + value);
            var found = Interlocked.CompareExchange(ref _sumBits, next, seen);
            if (found == seen) return;
            seen = found;
        }
    }

    private void LowerMin(double value)
    {
        var seen = Volatile.Read(ref _minBits);
        while (value < BitConverter.Int64BitsToDouble(seen))
        {
            var found = Interlocked.CompareExchange(ref _minBits, BitConverter.DoubleToInt64Bits(value), seen);
            if (found == seen) return;
            seen = found;
        }
    }

    private void RaiseMax(double value)
    {
        var seen = Volatile.Read(ref _maxBits);
        while (value > BitConverter.Int64BitsToDouble(seen))
        {
            var found = Interlocked.CompareExchange(ref _maxBits, BitConverter.DoubleToInt64Bits(value), seen);
            if (found == seen) return;
            seen = found;
        }
    }
}
