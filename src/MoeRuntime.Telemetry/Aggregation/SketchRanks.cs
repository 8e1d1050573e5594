using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>Rank queries on a sketch: how much of a distribution lies past a threshold.</summary>
public static class SketchRanks
{
    /// <summary>Share of the values above <paramref name="threshold"/> (within the sketch's relative accuracy).</summary>
    public static double FractionAbove(RelativeErrorSketch sketch, double threshold)
    {
        if (sketch.Count == 0) return 0;
        if (threshold <= 0) return (sketch.Count - sketch.ZeroCount) / (double)sketch.Count;
        int cut = sketch.Layout.OffsetOf(threshold);
        ReadOnlySpan<long> buckets = sketch.Buckets;
        long above = 0;
        for (int i = cut + 1; i < buckets.Length; i++) above += buckets[i];
        return above / (double)sketch.Count;
    }
}
