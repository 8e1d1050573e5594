namespace MoeRuntime.Serving.Tiers;

/// <summary>A consistent view of one store: its experts, tier usage and counters since it was created.</summary>
public sealed record TierStoreSnapshot(
    string Model, TierSet? TierSet, IReadOnlyList<ExpertResidency> Experts, TierUsage Hot, TierUsage Warm, TierStoreCounters Counters)
{
    public ExpertResidency Expert(ExpertKey key) =>
        Experts.FirstOrDefault(e => e.Key == key) ?? throw new KeyNotFoundException($"expert {key} is not registered");
}

/// <summary>
/// One expert's holdings. <paramref name="Resident"/> is where the expert lives between calls (hot only if assigned hot);
/// <paramref name="TransientHot"/> marks a hot copy held only to serve calls. <paramref name="Uses"/> counts its acquisitions
/// since registration (cumulative, like the counters): controllers take differences between snapshots.
/// </summary>
public sealed record ExpertResidency(
    ExpertKey Key, Tier Assigned, Tier Resident, bool TransientHot, long HotBytes, long WarmBytes, int Leases, bool Fetching, long Uses = 0);

/// <summary>Bytes held in a tier (hot counts bytes reserved by running fetches), its budget, and the most ever held.</summary>
public readonly record struct TierUsage(long UsedBytes, long BudgetBytes, long HighWaterBytes);

/// <summary>Counters since the store was created, as plain numbers for telemetry.</summary>
public sealed record TierStoreCounters
{
    /// <summary>Acquisitions that found the expert hot.</summary>
    public long Hits { get; init; }
    /// <summary>
    /// Of <see cref="Hits"/>, those that found a transient copy: an expert hot although the TierSet does not assign it hot
    /// (brought hot by an earlier call or a prefetch, or demoted and not yet evicted). The transient-yield rule weighs them.
    /// </summary>
    public long TransientHits { get; init; }
    public long MissesFromWarm { get; init; }
    public long MissesFromCold { get; init; }
    /// <summary>Sum of the waits of acquisitions served from warm; divide by <see cref="MissesFromWarm"/> for the mean.</summary>
    public double FetchSecondsFromWarm { get; init; }
    public double FetchSecondsFromCold { get; init; }
    /// <summary>Hot copies evicted to make room for a fetch.</summary>
    public long ForcedEvictions { get; init; }
    /// <summary>Hot copies dropped to carry out a TierSet.</summary>
    public long PlannedEvictions { get; init; }
    public long BytesColdToHot { get; init; }
    public long BytesWarmToHot { get; init; }
    public long BytesColdToWarm { get; init; }
    /// <summary>Hot bytes freed by evictions and demotions.</summary>
    public long BytesHotDropped { get; init; }
    /// <summary>Warm bytes freed by promotions and demotions.</summary>
    public long BytesWarmDropped { get; init; }
    public long PrefetchIssued { get; init; }
    /// <summary>Prefetched experts acquired before they left the hot tier.</summary>
    public long PrefetchUsed { get; init; }
    /// <summary>Prefetched experts evicted or demoted unused.</summary>
    public long PrefetchWasted { get; init; }
    /// <summary>Prefetch hints ignored because the hot tier had no room without waiting.</summary>
    public long PrefetchSkipped { get; init; }
    /// <summary>Prefetch hints that failed (unknown expert, unreadable or corrupt bytes).</summary>
    public long PrefetchFailures { get; init; }
    /// <summary>Checkpoint reads whose bytes failed their SHA-256.</summary>
    public long IntegrityFailures { get; init; }
    /// <summary>Fetches that had to wait for a lease to be released before they found hot room.</summary>
    public long RoomWaits { get; init; }
    /// <summary>Checkpoint bytes read, registration included.</summary>
    public long CheckpointBytesRead { get; init; }
}
