namespace MoeRuntime.Telemetry.Sketches;

/// <summary>
/// A <see cref="RelativeErrorSketch"/> kept for long in many copies: only the span of buckets between the lowest and
/// highest one that holds a value is stored (a latency sketch fills a few hundred of its 1,101), with the same count,
/// sum and extremes. Adding dense sketches and reading back <see cref="ToSketch"/> gives exactly the sketch
/// that merging them would have given. Not thread-safe.
/// </summary>
public sealed class CompactSketch(SketchLayout layout)
{
    long[] _counts = [];
    int _first;

    public SketchLayout Layout { get; } = layout;
    public long ZeroCount { get; private set; }
    public long UnderflowCount { get; private set; }
    public long OverflowCount { get; private set; }
    public double Sum { get; private set; }
    public double Min { get; private set; } = double.PositiveInfinity;
    public double Max { get; private set; } = double.NegativeInfinity;

    /// <summary>Buckets stored (the occupied span), what this sketch costs beyond its fixed fields.</summary>
    public int StoredBuckets => _counts.Length;

    /// <summary>Adds every value of <paramref name="sketch"/>.</summary>
    /// <exception cref="ArgumentException">The layouts differ.</exception>
    public void Add(RelativeErrorSketch sketch)
    {
        if (!Layout.Equals(sketch.Layout))
            throw new ArgumentException($"a sketch with layout {sketch.Layout} does not merge into {Layout}", nameof(sketch));
        ReadOnlySpan<long> buckets = sketch.Buckets;
        int low = buckets.IndexOfAnyExcept(0L);
        if (low >= 0)
        {
            int high = buckets.LastIndexOfAnyExcept(0L);
            Cover(low, high);
            Span<long> target = _counts.AsSpan(low - _first, high - low + 1);
            ReadOnlySpan<long> source = buckets[low..(high + 1)];
            for (int i = 0; i < source.Length; i++) target[i] += source[i];
        }
        ZeroCount += sketch.ZeroCount;
        UnderflowCount += sketch.UnderflowCount;
        OverflowCount += sketch.OverflowCount;
        Sum += sketch.Sum;
        Min = Math.Min(Min, sketch.Min);
        Max = Math.Max(Max, sketch.Max);
    }

    /// <summary>The dense sketch of everything added.</summary>
    public RelativeErrorSketch ToSketch() =>
        RelativeErrorSketch.FromParts(Layout, ZeroCount, UnderflowCount, OverflowCount, Sum, Min, Max, _first, _counts);

    /// <summary>Grows the stored span to reach from <paramref name="low"/> to <paramref name="high"/>.</summary>
    void Cover(int low, int high)
    {
        if (_counts.Length == 0)
        {
            _counts = new long[high - low + 1];
            _first = low;
            return;
        }
        int last = _first + _counts.Length - 1;
        if (low >= _first && high <= last) return;
        int newFirst = Math.Min(low, _first), newLast = Math.Max(high, last);
        var grown = new long[newLast - newFirst + 1];
        _counts.CopyTo(grown.AsSpan(_first - newFirst));
        _counts = grown;
        _first = newFirst;
    }
}
