using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Summaries;

/// <summary>
/// What one rank measured for one model during one interval: everything as deltas (or, for gauges,
/// last values), so that an aggregator merges summaries by adding them. Built by
/// <see cref="RankCollector.CollectSummary"/>, shipped with <see cref="SummaryCodec"/>.
/// </summary>
public sealed class RankSummary
{
    /// <summary>The reporting rank.</summary>
    public required string RankId { get; init; }

    /// <summary>The model measured.</summary>
    public required string Model { get; init; }

    /// <summary>1, 2, 3… per collector: lets an aggregator drop a summary it has already merged.</summary>
    public required long Sequence { get; init; }

    /// <summary>Start of the interval (UTC).</summary>
    public required DateTimeOffset IntervalStart { get; init; }

    /// <summary>End of the interval (UTC).</summary>
    public required DateTimeOffset IntervalEnd { get; init; }

    /// <summary>N of the sampled per-token distributions: their counts are one in N tokens.</summary>
    public required int SampleEveryNTokens { get; init; }

    /// <summary>Counter deltas of the series that changed.</summary>
    public required IReadOnlyList<CounterDelta> Counters { get; init; }

    /// <summary>Every registered gauge's value.</summary>
    public required IReadOnlyList<GaugeValue> Gauges { get; init; }

    /// <summary>Sketch deltas of the distributions that received values.</summary>
    public required IReadOnlyList<SketchDelta> Sketches { get; init; }

    /// <summary>Tokens routed, layer × expert.</summary>
    public required CountMatrix ExpertHits { get; init; }

    /// <summary>Expert FFN compute nanoseconds, layer × expert.</summary>
    public required CountMatrix ExpertComputeNanoseconds { get; init; }

    /// <summary>Layer compute nanoseconds, 1 × layer.</summary>
    public required CountMatrix LayerComputeNanoseconds { get; init; }

    /// <summary>Expert calls served from each tier, tier × layer (rows in <see cref="StorageTier"/> order).</summary>
    public required CountMatrix TierHits { get; init; }

    /// <summary>Expert calls that missed each tier, tier × layer.</summary>
    public required CountMatrix TierMisses { get; init; }

    /// <summary>Nanoseconds spent fetching from each tier, tier × layer.</summary>
    public required CountMatrix TierFetchNanoseconds { get; init; }

    /// <summary>Routing digests recorded since the previous summary, oldest first.</summary>
    public required IReadOnlyList<RoutingDigestRecord> RoutingDigests { get; init; }
}
