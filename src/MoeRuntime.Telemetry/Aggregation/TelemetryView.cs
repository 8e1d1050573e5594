namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>The merged telemetry of a window as dashboards, controllers and JSON endpoints read it.</summary>
public sealed record TelemetryView(
    string Scope,
    string Window,
    DateTimeOffset GeneratedAt,
    RankCounts Ranks,
    RequestRates Requests,
    IReadOnlyDictionary<string, LatencySummary> Latency,
    IReadOnlyList<LayerExperts> Experts,
    IReadOnlyList<TierStatus> Tiers,
    PrefetchStatus Prefetch,
    TrafficStatus Traffic,
    KvCacheStatus KvCache,
    IReadOnlyList<SloStatus> Slos,
    MismatchStatus Mismatches,
    Drift.RoutingDriftStatus? RoutingDrift = null)
{
    /// <summary>The window's shadow evaluation of a candidate checkpoint; null when no rank sampled a request for one.</summary>
    public ShadowStatus? Shadow { get; init; }
}

public sealed record RankCounts(int Live, int Stale, IReadOnlyList<string> StaleRanks);

public sealed record RequestRates(double Total, double PerSecond, double Errors, double ErrorRatio, double PromptTokensPerSecond, double CompletionTokensPerSecond, double AdmissionRejects);

/// <summary>Quantiles of one distribution (seconds for durations), within the sketches' relative accuracy.</summary>
public sealed record LatencySummary(long Count, double Mean, double P50, double P90, double P95, double P99, double Max);

/// <summary>Hits per expert of one layer, and the busiest expert's hits over the mean (1 = balanced).</summary>
public sealed record LayerExperts(int Layer, IReadOnlyList<long> Hits, double Imbalance, IReadOnlyList<double> ComputeSecondsPerHit);

public sealed record TierStatus(string Tier, long Hits, long Misses, double HitRatio, LatencySummary? FetchLatency, double MemoryBytes, double CapacityBytes, double Occupancy);

public sealed record PrefetchStatus(double UsedBytes, double WastedBytes, double Effectiveness, double Failures)
{
    /// <summary>Pre-gating's predicted, chosen and hit expert slots per layer and lookahead, ordered by both (empty without prefetching).</summary>
    public IReadOnlyList<PregatingAccuracy> Pregating { get; init; } = [];
}

public sealed record TrafficStatus(double DispatchBytesSent, double DispatchBytesReceived, double DispatchBytesPerSecond);

public sealed record KvCacheStatus(double Bytes, double Hits, double Misses, double HitRatio);

/// <summary>One objective: its target, what the window shows, and how fast the error budget burns (1 = exactly on budget).</summary>
public sealed record SloStatus(string Name, double Target, double Actual, bool Met, double BurnRate);

public sealed record MismatchStatus(long Compared, long Total, IReadOnlyList<MismatchCount> ByLayerAndRanks, IReadOnlyList<RoutingMismatch> Recent);

public sealed record MismatchCount(int Layer, string RankA, string RankB, long Count);
