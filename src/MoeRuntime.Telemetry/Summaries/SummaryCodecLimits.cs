using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Summaries;

/// <summary>
/// Bounds on what a summary may contain. The decoder checks each length against these and against
/// the bytes left before allocating, so hostile input cannot make it allocate much more than its size.
/// </summary>
public sealed record SummaryCodecLimits
{
    /// <summary>Largest encoded summary accepted or produced.</summary>
    public int MaxBytes { get; init; } = 4 << 20;

    /// <summary>Most counter, gauge or sketch series in one section.</summary>
    public int MaxSeries { get; init; } = 4096;

    /// <summary>Most sketches in one summary (each costs a full bucket array when decoded).</summary>
    public int MaxSketches { get; init; } = 512;

    /// <summary>Most cells in one matrix.</summary>
    public int MaxMatrixCells { get; init; } = 1 << 20;

    /// <summary>Most routing digests in one summary.</summary>
    public int MaxDigests { get; init; } = 1 << 16;

    /// <summary>Longest string (rank id, model, metric name, label value), in UTF-8 bytes.</summary>
    public int MaxStringBytes { get; init; } = 128;

    /// <summary>Sketch layouts a summary may use; anything else is refused rather than allocated.</summary>
    public IReadOnlyList<SketchLayout> SketchLayouts { get; init; } = [SketchLayout.Latency, SketchLayout.Magnitude];

    /// <summary>The defaults.</summary>
    public static SummaryCodecLimits Default { get; } = new();
}
