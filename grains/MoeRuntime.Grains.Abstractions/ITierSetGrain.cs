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
}

/// <summary>A rank's tier-store counters since it started.</summary>
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
