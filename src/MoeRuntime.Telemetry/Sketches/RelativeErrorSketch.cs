namespace MoeRuntime.Telemetry.Sketches;

/// <summary>
/// A DDSketch-style quantile sketch: log-spaced buckets with relative accuracy α, a zero bucket for
/// values ≤ 0, and exact count, sum, min and max. Merging adds bucket counts, so merging the sketches
/// of many ranks or intervals gives exactly the sketch of all their values. Not thread-safe: ranks
/// record through <see cref="ConcurrentSketchRecorder"/> and ship these as deltas.
/// </summary>
public sealed class RelativeErrorSketch
{
    private readonly long[] _buckets;

    /// <summary>Creates an empty sketch.</summary>
    public RelativeErrorSketch(SketchLayout layout)
    {
        Layout = layout;
        _buckets = new long[layout.BucketCount];
    }

    /// <summary>The bucket mapping; merges require equal layouts.</summary>
    public SketchLayout Layout { get; }

    /// <summary>Values recorded (zero bucket included).</summary>
    public long Count { get; private set; }

    /// <summary>Values recorded that were ≤ 0.</summary>
    public long ZeroCount { get; private set; }

    /// <summary>Positive values below <see cref="SketchLayout.MinValue"/>, clamped into the first bucket.</summary>
    public long UnderflowCount { get; private set; }

    /// <summary>Values above <see cref="SketchLayout.MaxValue"/>, clamped into the last bucket.</summary>
    public long OverflowCount { get; private set; }

    /// <summary>Sum of the values recorded.</summary>
    public double Sum { get; private set; }

    /// <summary>Smallest value recorded; +∞ when empty.</summary>
    public double Min { get; private set; } = double.PositiveInfinity;

    /// <summary>Largest value recorded; −∞ when empty.</summary>
    public double Max { get; private set; } = double.NegativeInfinity;

    /// <summary>
    /// Nothing at all was recorded. A delta taken while a record was in flight can hold that record's
    /// sum and extremes but not yet its bucket (see <see cref="ConcurrentSketchRecorder"/>); such a
    /// delta has a count of zero but is not empty, and must still be merged.
    /// </summary>
    public bool IsEmpty => Count == 0 && Sum == 0 && double.IsPositiveInfinity(Min) && double.IsNegativeInfinity(Max);

    /// <summary>The buckets' counts, offset 0 holding the layout's first bucket.</summary>
    public ReadOnlySpan<long> Buckets => _buckets;

    /// <summary>Records <paramref name="count"/> occurrences of <paramref name="value"/>. NaN is ignored: it has no rank.</summary>
    public void Record(double value, long count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (double.IsNaN(value) || count == 0) return;
        if (value <= 0) ZeroCount += count;
        else
        {
            if (value < Layout.MinValue) UnderflowCount += count;
            else if (value > Layout.MaxValue) OverflowCount += count;
            _buckets[Layout.OffsetOf(value)] += count;
        }
        Count += count;
        Sum += value * count;
        Min = Math.Min(Min, value);
        Max = Math.Max(Max, value);
    }

    /// <summary>Adds every value of <paramref name="other"/> to this sketch.</summary>
    /// <exception cref="ArgumentException">The sketches have different accuracy or range.</exception>
    public void Merge(RelativeErrorSketch other)
    {
        if (!Layout.Equals(other.Layout))
            throw new ArgumentException(
                $"Cannot merge a sketch with layout {other.Layout} into one with layout {Layout}: bucket bounds differ.", nameof(other));
        var source = other._buckets;
        for (var i = 0; i < source.Length; i++) _buckets[i] += source[i];
        Count += other.Count;
        ZeroCount += other.ZeroCount;
        UnderflowCount += other.UnderflowCount;
        OverflowCount += other.OverflowCount;
        Sum += other.Sum;
        Min = Math.Min(Min, other.Min);
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>
    /// The value at rank ⌊q·(Count−1)⌋ of the recorded values, within <see cref="SketchLayout.RelativeAccuracy"/>
    /// of the true one when it lies in the layout's range; q = 0 and q = 1 give the exact min and max;
    /// NaN when empty.
    /// </summary>
    public double Quantile(double q)
    {
        if (!(q >= 0 && q <= 1)) throw new ArgumentOutOfRangeException(nameof(q), q, "q must lie in [0, 1].");
        if (Count == 0) return double.NaN;

        var rank = (long)Math.Floor(q * (Count - 1));
        // The extremes are exact, which also covers values clamped into the edge buckets. (A delta
        // whose extremes went to the previous snapshot has Min > Max and is read from buckets alone.)
        var extremesKnown = Min <= Max;
        if (extremesKnown && rank == 0) return Min;
        if (extremesKnown && rank == Count - 1) return Max;
        var value = Layout.ValueOf(_buckets.Length - 1);
        if (rank < ZeroCount) value = 0;
        else
        {
            var seen = ZeroCount;
            for (var i = 0; i < _buckets.Length; i++)
            {
                seen += _buckets[i];
                if (seen <= rank) continue;
                value = Layout.ValueOf(i);
                break;
            }
        }
        return extremesKnown ? Math.Clamp(value, Min, Max) : value;
    }

    /// <summary>
    /// Rebuilds a sketch from its parts, as a summary carries them; the caller has checked that the
    /// counts are non-negative and fit the layout. Count is derived, so it cannot disagree with the buckets.
    /// </summary>
    internal static RelativeErrorSketch FromParts(
        SketchLayout layout, long zeroCount, long underflow, long overflow, double sum, double min, double max,
        int firstOffset, ReadOnlySpan<long> counts)
    {
        var sketch = new RelativeErrorSketch(layout);
        counts.CopyTo(sketch._buckets.AsSpan(firstOffset));
        var total = zeroCount;
        foreach (var c in counts) total = checked(total + c);
        sketch.Count = total;
        sketch.ZeroCount = zeroCount;
        sketch.UnderflowCount = underflow;
        sketch.OverflowCount = overflow;
        sketch.Sum = sum;
        sketch.Min = min;
        sketch.Max = max;
        return sketch;
    }

    /// <summary>
    /// Fills a sketch taken from a <see cref="ConcurrentSketchRecorder"/>; buckets are already in place.
    /// A record racing the previous snapshot may have left its extremes there, so a delta's min/max
    /// can stay infinite while it has a count; merged over deltas they are exact.
    /// </summary>
    internal void SetTotals(long zeroCount, long underflow, long overflow, double sum, double min, double max)
    {
        var total = zeroCount;
        foreach (var c in _buckets) total += c;
        Count = total;
        ZeroCount = zeroCount;
        UnderflowCount = underflow;
        OverflowCount = overflow;
        Sum = sum;
        (Min, Max) = (min, max);
    }

    internal Span<long> WritableBuckets => _buckets;
}
