namespace MoeRuntime.Telemetry.Sketches;

/// <summary>
/// The fixed bucket mapping of a <see cref="RelativeErrorSketch"/>: bucket <c>i</c> holds values in
/// (γ^(i−1), γ^i] with γ = (1+α)/(1−α), so its representative 2γ^i/(γ+1) is within α of every value
/// in it. The index range is bounded so that a sketch is a fixed, preallocated array; values outside
/// it clamp into the edge buckets and are counted. Two sketches merge only with equal layouts.
/// </summary>
public sealed class SketchLayout : IEquatable<SketchLayout>
{
    /// <summary>Most buckets a layout may have (α = 0.001 over 1 µs … 1 h needs ~11k).</summary>
    public const int MaxBuckets = 1 << 16;

    private readonly double _inverseLnGamma;

    /// <summary>Creates a layout with relative accuracy <paramref name="relativeAccuracy"/> over [<paramref name="minValue"/>, <paramref name="maxValue"/>].</summary>
    public SketchLayout(double relativeAccuracy, double minValue, double maxValue)
    {
        if (!(relativeAccuracy > 0 && relativeAccuracy < 0.5))
            throw new ArgumentOutOfRangeException(nameof(relativeAccuracy), relativeAccuracy, "Relative accuracy must lie in (0, 0.5).");
        if (!(minValue > 0) || !double.IsFinite(maxValue) || !(maxValue > minValue))
            throw new ArgumentOutOfRangeException(nameof(maxValue), "The range must satisfy 0 < min < max < ∞.");

        RelativeAccuracy = relativeAccuracy;
        MinValue = minValue;
        MaxValue = maxValue;
        Gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy);
        _inverseLnGamma = 1 / Math.Log(Gamma);
        MinIndex = IndexOf(minValue);
        var buckets = (long)IndexOf(maxValue) - MinIndex + 1;
        if (buckets > MaxBuckets)
            throw new ArgumentOutOfRangeException(nameof(relativeAccuracy), $"The layout would need {buckets} buckets; at most {MaxBuckets}.");
        BucketCount = (int)buckets;
    }

    /// <summary>1% over 1 µs … 1 h: the layout of every duration metric (values in seconds).</summary>
    public static SketchLayout Latency { get; } = new(0.01, 1e-6, 3600);

    /// <summary>1% over 0.001 … 10⁹: token counts, batch sizes, rates.</summary>
    public static SketchLayout Magnitude { get; } = new(0.01, 1e-3, 1e9);

    /// <summary>α: the largest relative error of a quantile read from a sketch of this layout.</summary>
    public double RelativeAccuracy { get; }

    /// <summary>Smallest positive value that is not clamped.</summary>
    public double MinValue { get; }

    /// <summary>Largest value that is not clamped.</summary>
    public double MaxValue { get; }

    /// <summary>γ = (1+α)/(1−α), the ratio of consecutive bucket bounds.</summary>
    public double Gamma { get; }

    /// <summary>Log-index of the first bucket, ceil(log_γ MinValue).</summary>
    public int MinIndex { get; }

    /// <summary>Number of buckets (not counting the zero bucket).</summary>
    public int BucketCount { get; }

    /// <summary>The bucket (array offset, 0 … BucketCount−1) for a positive value, clamped to the range.</summary>
    public int OffsetOf(double value)
    {
        if (value <= MinValue) return 0;
        if (value >= MaxValue) return BucketCount - 1;
        var offset = IndexOf(value) - MinIndex;
        // Rounding in the logarithm can step one past an edge for values a hair inside the range.
        return Math.Clamp(offset, 0, BucketCount - 1);
    }

    /// <summary>The value reported for a bucket: within α of everything the bucket holds.</summary>
    public double ValueOf(int offset) => 2 * Math.Pow(Gamma, offset + MinIndex) / (Gamma + 1);

    /// <inheritdoc />
    public bool Equals(SketchLayout? other) =>
        other is not null &&
        RelativeAccuracy.Equals(other.RelativeAccuracy) && MinValue.Equals(other.MinValue) && MaxValue.Equals(other.MaxValue);

    /// <inheritdoc />
    public override bool Equals(object? obj) => Equals(obj as SketchLayout);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(RelativeAccuracy, MinValue, MaxValue);

    /// <inheritdoc />
    public override string ToString() => $"α={RelativeAccuracy} over [{MinValue}, {MaxValue}]";

    private int IndexOf(double value) => (int)Math.Ceiling(Math.Log(value) * _inverseLnGamma);
}
