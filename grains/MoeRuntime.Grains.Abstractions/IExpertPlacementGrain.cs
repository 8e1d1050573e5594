namespace MoeRuntime.Grains;

/// <summary>
/// The placement map of one model, keyed by model name: which experts have replicas beyond their default
/// grain, and on which ranks. An expert the map does not name has one replica, its default grain
/// <c>model/layer/expert</c> on its round-robin owner. Versioned; every version keeps who made it, when and why.
/// Routers read it through a cached copy, never per step.
/// </summary>
public interface IExpertPlacementGrain : IGrainWithStringKey
{
    Task<PlacementMapView> GetAsync();

    /// <summary>The map if its version differs from <paramref name="knownVersion"/>, else null: what routers poll.</summary>
    Task<PlacementMapView?> GetIfChangedAsync(long knownVersion);

    /// <summary>Writes a new version; refused if <see cref="PlacementMapUpdate.ExpectedVersion"/> is stale or a rank is not live.</summary>
    Task<PlacementMapView> ApplyAsync(PlacementMapUpdate update);

    /// <summary>The newest versions first.</summary>
    Task<PlacementMapView[]> GetHistoryAsync(int maxVersions);
}

/// <summary>A change to a placement map: the full replica sets of some experts, and who made it and why.</summary>
[GenerateSerializer, Immutable, Alias("moe.PlacementMapUpdate")]
public sealed record PlacementMapUpdate
{
    /// <summary>
    /// Expert key (<c>model/layer/expert</c>) to the ranks that will hold its replicas. An empty list returns
    /// the expert to its default: one replica on its round-robin owner.
    /// </summary>
    [Id(0)] public Dictionary<string, int[]> Replicas { get; init; } = [];
    [Id(1)] public required string ChangedBy { get; init; }
    [Id(2)] public required string Reason { get; init; }
    /// <summary>Optimistic concurrency: the version the change was computed against; null skips the check.</summary>
    [Id(3)] public long? ExpectedVersion { get; init; }
    /// <summary>The individual changes in words (replicate, move, drop, with their numbers), kept with the version.</summary>
    [Id(4)] public string[] Changes { get; init; } = [];
    /// <summary>
    /// A placement trial's version: only the routers of these ranks use <see cref="Replicas"/> for the experts of
    /// <see cref="TrialBefore"/>; every other router keeps their placements before the trial. Empty: no trial.
    /// </summary>
    [Id(5)] public int[] TrialRanks { get; init; } = [];
    /// <summary>The trial's experts as they were before it (an empty list: the default placement).</summary>
    [Id(6)] public Dictionary<string, int[]> TrialBefore { get; init; } = [];
}

/// <summary>One version of a placement map.</summary>
[GenerateSerializer, Immutable, Alias("moe.PlacementMapView")]
public sealed record PlacementMapView
{
    [Id(0)] public required string Model { get; init; }
    [Id(1)] public long Version { get; init; }
    /// <summary>Expert key to the ranks of its replicas (ascending), for the experts not on their default placement.</summary>
    [Id(2)] public Dictionary<string, int[]> Replicas { get; init; } = [];
    [Id(3)] public required string ChangedBy { get; init; }
    [Id(4)] public DateTimeOffset ChangedAt { get; init; }
    [Id(5)] public required string Reason { get; init; }
    [Id(6)] public string[] Changes { get; init; } = [];
    /// <summary>Under a placement trial, the canary ranks, whose routers alone use the trial's replicas (see <see cref="PlacementMapUpdate.TrialRanks"/>).</summary>
    [Id(7)] public int[] TrialRanks { get; init; } = [];
    /// <summary>Under a placement trial, the placements its experts had before it, which the other routers keep using.</summary>
    [Id(8)] public Dictionary<string, int[]> TrialBefore { get; init; } = [];

    /// <summary>The replicas the router of <paramref name="rank"/> uses for <paramref name="expertKey"/> (empty: the default grain).</summary>
    public int[] ReplicasFor(string expertKey, int rank) =>
        TrialRanks.Length > 0 && !TrialRanks.Contains(rank) && TrialBefore.TryGetValue(expertKey, out int[]? before)
            ? before
            : Replicas.GetValueOrDefault(expertKey, []);

    /// <summary>Expert keys whose replicas the router of <paramref name="rank"/> sees in this version.</summary>
    public IEnumerable<string> KeysFor(int rank) => TrialRanks.Length > 0 && !TrialRanks.Contains(rank) ? Replicas.Keys.Union(TrialBefore.Keys) : Replicas.Keys;
}
