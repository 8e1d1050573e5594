using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Control.Replay;

/// <summary>How a replay is run.</summary>
public sealed record ReplayOptions
{
    /// <summary>Experts each layer's hot set holds (at least 1).</summary>
    public required int CapacityPerLayer { get; init; }
    /// <summary>Bytes one expert occupies hot; 0 when unknown (bytes columns are then 0).</summary>
    public long ExpertBytes { get; init; }
    /// <summary>Modelled stall of one demand fetch (the compute waits for it); prefetches and planned moves overlap compute.</summary>
    public double FetchMilliseconds { get; init; } = 2.0;
    /// <summary>Simulate the runtime's pre-gating: after layer L of a step, warm layer L+1's predicted experts.</summary>
    public bool Prefetch { get; init; }
    /// <summary>Chance that each expert layer L+1 really uses is predicted; otherwise a wrong expert is predicted in its place.</summary>
    public double PrefetchAccuracy { get; init; } = 0.8;
    /// <summary>
    /// Measured pre-gating accuracy (see <c>PregatingAccuracyFile</c>); its lookahead-1 entries replace
    /// <see cref="PrefetchAccuracy"/> for their layers: each expert the layer uses is predicted with the layer's recall, and
    /// wrong experts are added at the measured rate of wrong predictions per used expert, so that precision comes out as
    /// measured. Layers without an entry keep <see cref="PrefetchAccuracy"/>. Null uses the one assumed number.
    /// </summary>
    public IReadOnlyList<PregatingAccuracy>? PrefetchMeasured { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>Steps per interval handed to <see cref="IReplayPolicy.IntervalEnded"/>.</summary>
    public int IntervalSteps { get; init; } = 1;

    internal void Validate(ReplayTrace trace)
    {
        if (CapacityPerLayer < 1) throw new ArgumentException($"the hot capacity must be at least one expert per layer, got {CapacityPerLayer}");
        if (ExpertBytes < 0) throw new ArgumentException("expert bytes must not be negative");
        if (!(FetchMilliseconds >= 0) || !double.IsFinite(FetchMilliseconds)) throw new ArgumentException("the fetch time must be a non-negative number");
        if (!(PrefetchAccuracy is >= 0 and <= 1)) throw new ArgumentException("the prefetch accuracy must be in [0, 1]");
        if (PrefetchMeasured is not null)
            foreach (PregatingAccuracy m in PrefetchMeasured)
                if (m.Lookahead == 1 && (m.Layer >= trace.Layers || m.Layer < 0))
                    throw new ArgumentException($"the measured pre-gating accuracy names layer {m.Layer}; the trace has {trace.Layers} layers");
        if (IntervalSteps < 1) throw new ArgumentException("an interval has at least one step");
        if (trace.Layers < 1 || trace.Experts < 1) throw new ArgumentException("the trace has no layers or experts");
    }
}

/// <summary>One policy's replay: counts, and the bytes and stall they model.</summary>
public sealed record ReplayResult(
    string Policy, int CapacityPerLayer, long Accesses, long Hits, long DemandFetches,
    long PrefetchFetches, long PrefetchUsed, long PrefetchWasted, long PlannedFetches,
    long ExpertBytes, double FetchMilliseconds)
{
    public long Misses => DemandFetches;
    public double HitRate => Accesses == 0 ? 0 : (double)Hits / Accesses;
    public long Fetches => DemandFetches + PrefetchFetches + PlannedFetches;
    public long BytesMoved => Fetches * ExpertBytes;
    /// <summary>Demand fetches times the fetch time: prefetches and planned moves are assumed to overlap compute.</summary>
    public double StallMilliseconds => DemandFetches * FetchMilliseconds;
    /// <summary>Prefetched experts used before eviction, over all prefetch fetches (NaN without prefetches).</summary>
    public double PrefetchHitRate => PrefetchFetches == 0 ? double.NaN : (double)PrefetchUsed / PrefetchFetches;
    /// <summary>Bytes of prefetched experts evicted (or left at the end) unused.</summary>
    public long WastedBytes => PrefetchWasted * ExpertBytes;
}
