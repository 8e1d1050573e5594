using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Collection;

/// <summary>What a <see cref="RankCollector"/> measures and how.</summary>
public sealed record RankCollectorOptions
{
    /// <summary>This rank's id, as the <c>rank</c> label.</summary>
    public required string RankId { get; init; }

    /// <summary>The model's name, as the <c>model</c> label.</summary>
    public required string Model { get; init; }

    /// <summary>Decoder layers of the model: rows of the expert matrices.</summary>
    public required int Layers { get; init; }

    /// <summary>Experts per layer: columns of the expert matrices.</summary>
    public required int Experts { get; init; }

    /// <summary>Per-token distributions the catalogue marks as sampled record every N-th token (1 = all).</summary>
    public int SampleEveryNTokens { get; init; } = 16;

    /// <summary>Routing digests kept between two summaries (a power of two); older ones are overwritten and counted.</summary>
    public int DigestCapacity { get; init; } = 1 << 14;

    /// <summary>Most routing digests one summary carries; the rest wait for the next one.</summary>
    public int MaxDigestsPerSummary { get; init; } = 1 << 14;

    /// <summary>Bucket mapping of duration metrics (unit <c>s</c>).</summary>
    public SketchLayout DurationLayout { get; init; } = SketchLayout.Latency;

    /// <summary>Bucket mapping of the other distributions (tokens, batch sizes, rates).</summary>
    public SketchLayout MagnitudeLayout { get; init; } = SketchLayout.Magnitude;

    /// <summary>Prices of the cost estimates.</summary>
    public CostRates Costs { get; init; } = new();

    /// <summary>Clock of the summaries' interval bounds.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
}
