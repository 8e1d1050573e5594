using Orleans.Concurrency;

namespace MoeRuntime.Grains;

/// <summary>
/// One rank's prefetch effectiveness per layer (keyed <c>model/rank</c>, activated on that rank): cumulative since
/// the rank's tier store was created; a new <see cref="RankPrefetchStats.Epoch"/> means the counters restarted.
/// </summary>
public interface IPrefetchStatsGrain : IGrainWithStringKey
{
    Task<RankPrefetchStats> GetAsync();
}

[GenerateSerializer, Immutable, Alias("moe.RankPrefetchStats")]
public sealed record RankPrefetchStats
{
    [Id(0)] public int Rank { get; init; }
    /// <summary>Identifies the store the counters belong to; it changes when the rank restarts.</summary>
    [Id(1)] public Guid Epoch { get; init; }
    /// <summary>Indexed by layer.</summary>
    [Id(2)] public PrefetchLayerStatsView[] Layers { get; init; } = [];
}

/// <summary>One layer's cumulative prefetch counts on one rank.</summary>
[GenerateSerializer, Immutable, Alias("moe.PrefetchLayerStatsView")]
public sealed record PrefetchLayerStatsView
{
    [Id(0)] public int Layer { get; init; }
    [Id(1)] public long Issued { get; init; }
    [Id(2)] public long UsedBytes { get; init; }
    [Id(3)] public long WastedBytes { get; init; }
    [Id(4)] public long Failures { get; init; }
    /// <summary>Time acquisitions of the layer's experts waited on fetches (misses).</summary>
    [Id(5)] public double StallSeconds { get; init; }
}

/// <summary>
/// The prefetch controller of one model (keyed by model name): holds the cluster's versioned prefetch settings,
/// which every rank's router polls, and on a timer tunes them from the ranks' per-layer prefetch effectiveness.
/// Every tick with activity and every operator change is recorded in <see cref="IControlDecisionLogGrain"/>;
/// in dry run it only proposes.
/// </summary>
public interface IPrefetchControllerGrain : IGrainWithStringKey
{
    /// <summary>The current settings; routers keep a copy and swap it when the version changes. Never waits behind a tick.</summary>
    [AlwaysInterleave]
    Task<PrefetchSettingsView> GetSettingsAsync();

    [AlwaysInterleave]
    Task<PrefetchControlStatus> GetStatusAsync();

    /// <summary>Runs one interval now (as the timer does) and returns its decision; null when the interval had no prefetch activity.</summary>
    Task<ControlDecisionRecord?> TickAsync();

    /// <summary>An operator's change; layers not named keep their thresholds, a null lookahead keeps it.</summary>
    Task<PrefetchSettingsView> SetAsync(PrefetchSettingsChange change, string changedBy, string reason);

    /// <summary>
    /// The settings <paramref name="rank"/>'s router uses: a rank override (a canary trial's) when one is set, else the
    /// cluster's. Never waits behind a tick.
    /// </summary>
    [AlwaysInterleave]
    Task<PrefetchSettingsView> GetRankSettingsAsync(int rank);

    /// <summary>
    /// Overrides the settings of <paramref name="ranks"/> with the cluster's changed by <paramref name="change"/>, or with
    /// null removes their override; returns the settings those ranks use after it. The controller keeps tuning the
    /// cluster's settings meanwhile; an override stays as set until removed.
    /// </summary>
    Task<PrefetchSettingsView> SetRankOverrideAsync(int[] ranks, PrefetchSettingsChange? change, string changedBy, string reason);
}

/// <summary>One version of the prefetch settings: layers ahead to prefetch and each layer's confidence threshold.</summary>
[GenerateSerializer, Immutable, Alias("moe.PrefetchSettingsView")]
public sealed record PrefetchSettingsView
{
    [Id(0)] public long Version { get; init; }
    /// <summary>Layers after the gated one whose predicted experts are hinted; 0 turns prefetching off.</summary>
    [Id(1)] public int Lookahead { get; init; }
    /// <summary>Per layer: the least gate weight a token must give an expert for it to be hinted; 0 hints every predicted top-k expert.</summary>
    [Id(2)] public double[] Thresholds { get; init; } = [];
    [Id(3)] public string ChangedBy { get; init; } = "";
    [Id(4)] public DateTimeOffset ChangedAt { get; init; }
    [Id(5)] public string Reason { get; init; } = "";
}

/// <summary>Rank overrides of the prefetch settings (canary trials), kept so that a moved controller grain serves them still.</summary>
[GenerateSerializer, Alias("moe.PrefetchRankOverrides")]
public sealed class PrefetchRankOverrides
{
    [Id(0)] public Dictionary<int, PrefetchSettingsView> Ranks { get; set; } = [];
}

/// <summary>An operator's change to the prefetch settings.</summary>
[GenerateSerializer, Immutable, Alias("moe.PrefetchSettingsChange")]
public sealed record PrefetchSettingsChange
{
    [Id(0)] public int? Lookahead { get; init; }
    /// <summary>New thresholds by layer; layers not named keep theirs.</summary>
    [Id(1)] public Dictionary<int, double> Thresholds { get; init; } = [];
}

/// <summary>The controller's mode, settings and its latest decision.</summary>
[GenerateSerializer, Immutable, Alias("moe.PrefetchControlStatus")]
public sealed record PrefetchControlStatus
{
    [Id(0)] public required PrefetchSettingsView Settings { get; init; }
    [Id(1)] public bool Enabled { get; init; }
    [Id(2)] public bool DryRun { get; init; }
    [Id(3)] public double IntervalSeconds { get; init; }
    /// <summary>Intervals run since activation, idle ones included.</summary>
    [Id(4)] public long Ticks { get; init; }
    /// <summary>The newest decision (controller or operator), kept even if the decision log could not be reached.</summary>
    [Id(5)] public ControlDecisionRecord? LastDecision { get; init; }
    /// <summary>In dry run, the settings the newest decision proposed (not applied).</summary>
    [Id(6)] public PrefetchSettingsView? Proposed { get; init; }
    /// <summary>Ranks whose stats could not be read in the last interval.</summary>
    [Id(7)] public int[] UnreachableRanks { get; init; } = [];
}
