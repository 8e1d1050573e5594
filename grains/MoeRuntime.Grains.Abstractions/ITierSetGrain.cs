namespace MoeRuntime.Grains;

/// <summary>
/// The TierSet of one rank and model, keyed <c>model/rank</c> and activated on that rank: which tier
/// each of its experts sits in, the tiers' budgets, and every version's author, time and reason.
/// </summary>
public interface ITierSetGrain : IGrainWithStringKey
{
    Task<TierSetView> GetAsync();

    /// <summary>Writes and applies a new version; refused if <see cref="TierSetUpdate.ExpectedVersion"/> is stale or budgets would be exceeded.</summary>
    Task<TierSetView> UpdateAsync(TierSetUpdate update);

    Task<TierSetView[]> GetHistoryAsync(int maxVersions);

    /// <summary>How the rank's tier store has done since it started: hits, misses, fetches, evictions, prefetches.</summary>
    Task<TierStoreStats> GetStoreStatsAsync();

    /// <summary>
    /// What a tier controller reads of the rank in one call: the current version, every registered expert with its
    /// tier, sizes and cumulative uses, and the cumulative fetch counters. Controllers difference two reads.
    /// </summary>
    Task<TierControlState> GetControlStateAsync();
}

/// <summary>A rank's TierSet, experts and tier-store counters as its controllers read them; every count is cumulative since the rank started.</summary>
[GenerateSerializer, Immutable, Alias("moe.TierControlState")]
public sealed record TierControlState
{
    [Id(0)] public required TierSetView View { get; init; }
    [Id(1)] public ExpertControlState[] Experts { get; init; } = [];
    /// <summary>The rank's tier-store counters, the same as <see cref="ITierSetGrain.GetStoreStatsAsync"/> answers.</summary>
    [Id(2)] public required TierStoreStats Store { get; init; }
    /// <summary>
    /// The most hot memory the rank may use: its configured <c>Moe:HotBudgetBytes</c>, or the hot budget an operator
    /// last wrote. Controllers lower the TierSet's hot budget under it to give memory back and raise it again, never over it.
    /// </summary>
    [Id(3)] public long HotCeilingBytes { get; init; }
}

/// <summary>One registered expert of a rank: its assigned tier, what it takes in the hot and warm tiers, and its acquisitions since registration.</summary>
[GenerateSerializer, Immutable, Alias("moe.ExpertControlState")]
public sealed record ExpertControlState
{
    [Id(0)] public required string Expert { get; init; }
    /// <summary>hot, warm or cold.</summary>
    [Id(1)] public required string Tier { get; init; }
    [Id(2)] public long HotBytes { get; init; }
    [Id(3)] public long WarmBytes { get; init; }
    [Id(4)] public long Uses { get; init; }
}

/// <summary>A rank's tier-store counters since it started: hits, misses (fetches) by the tier they came from and their waits, evictions, prefetches.</summary>
[GenerateSerializer, Immutable, Alias("moe.TierStoreStats")]
public sealed record TierStoreStats
{
    [Id(0)] public long Hits { get; init; }
    [Id(1)] public long MissesFromWarm { get; init; }
    [Id(2)] public long MissesFromCold { get; init; }
    [Id(3)] public double FetchSecondsFromWarm { get; init; }
    [Id(4)] public double FetchSecondsFromCold { get; init; }
    [Id(5)] public long ForcedEvictions { get; init; }
    [Id(6)] public long PlannedEvictions { get; init; }
    [Id(7)] public long PrefetchIssued { get; init; }
    [Id(8)] public long PrefetchUsed { get; init; }
    [Id(9)] public long PrefetchWasted { get; init; }
    [Id(10)] public long IntegrityFailures { get; init; }
    [Id(11)] public long HotHighWaterBytes { get; init; }
    [Id(12)] public long WarmHighWaterBytes { get; init; }
    /// <summary>Bytes brought hot out of the warm tier.</summary>
    [Id(13)] public long WarmFetchedBytes { get; init; }
    /// <summary>Bytes brought hot out of the cold tier (disk reads that became hot copies).</summary>
    [Id(14)] public long ColdFetchedBytes { get; init; }
    /// <summary>Of <see cref="Hits"/>, those served by a transient copy (an expert hot that the TierSet does not assign hot).</summary>
    [Id(15)] public long TransientHits { get; init; }
}

/// <summary>A change to a TierSet: tiers for some experts, optionally new budgets, and why.</summary>
[GenerateSerializer, Immutable, Alias("moe.TierSetUpdate")]
public sealed record TierSetUpdate
{
    /// <summary>Expert key (<c>model/layer/expert</c>) to tier name (hot, warm, cold).</summary>
    [Id(0)] public Dictionary<string, string> Tiers { get; init; } = [];
    [Id(1)] public long? HotBudgetBytes { get; init; }
    [Id(2)] public long? WarmBudgetBytes { get; init; }
    [Id(3)] public required string ChangedBy { get; init; }
    [Id(4)] public required string Reason { get; init; }
    /// <summary>Optimistic concurrency: the version the change was computed against; null skips the check.</summary>
    [Id(5)] public long? ExpectedVersion { get; init; }
    /// <summary>
    /// <see cref="HotBudgetBytes"/> is a limit under the rank's hot ceiling (a controller giving memory back or taking it
    /// again), not a new ceiling: a limit over the ceiling is refused. Otherwise the hot budget written becomes the ceiling.
    /// </summary>
    [Id(6)] public bool HotBudgetIsLimit { get; init; }
}

/// <summary>One version of a TierSet as clients see it.</summary>
[GenerateSerializer, Immutable, Alias("moe.TierSetView")]
public sealed record TierSetView
{
    [Id(0)] public required string Model { get; init; }
    [Id(1)] public int Rank { get; init; }
    [Id(2)] public long Version { get; init; }
    [Id(3)] public Dictionary<string, string> Tiers { get; init; } = [];
    [Id(4)] public long HotBudgetBytes { get; init; }
    [Id(5)] public long WarmBudgetBytes { get; init; }
    [Id(6)] public long HotBytesUsed { get; init; }
    [Id(7)] public long WarmBytesUsed { get; init; }
    [Id(8)] public required string ChangedBy { get; init; }
    [Id(9)] public DateTimeOffset ChangedAt { get; init; }
    [Id(10)] public required string Reason { get; init; }
}
