using Orleans.Concurrency;

namespace MoeRuntime.Grains;

/// <summary>
/// The tier controllers of one model (keyed by model name): every interval it reads each live rank's TierSet and
/// counters and the cluster's latency, runs the latency controller then the cost controller through the guardrails,
/// writes the admitted moves as new TierSet versions and records every decision in the model's
/// <see cref="IControlDecisionLogGrain"/>. Operators pin experts, switch dry run, and read its status here.
/// </summary>
public interface ITierControllerGrain : IGrainWithStringKey
{
    /// <summary>Starts the interval timer if it is not running; every silo calls it on start, so it is idempotent.</summary>
    Task StartAsync();

    /// <summary>Runs one interval now (for operators and tests); returns the status after it.</summary>
    Task<ControllerStatus> TickAsync();

    Task<ControllerStatus> GetStatusAsync();

    /// <summary>In a dry run decisions are recorded as proposed and no TierSet is written. Kept in the controllers' storage until switched again.</summary>
    Task<ControllerStatus> SetDryRunAsync(bool dryRun);

    /// <summary>
    /// Pins <paramref name="expertKey"/> to <paramref name="tier"/> (hot, warm, cold) on every rank that holds it, at once,
    /// or unpins it when <paramref name="tier"/> is null. Controllers never move a pinned expert.
    /// </summary>
    Task<ControllerStatus> PinAsync(string expertKey, string? tier, string by, string reason);

    /// <summary>
    /// The telemetry sampling the latency controller has set: lowered under latency pressure, restored once targets hold
    /// with margin. Every rank keeps a copy and polls this. Never waits behind an interval.
    /// </summary>
    [AlwaysInterleave]
    Task<TelemetrySamplingView> GetSamplingAsync();
}

/// <summary>
/// One version of the cluster's telemetry sampling. <see cref="Ratio"/> scales what ranks sample on top of their
/// configuration: request traces are head-sampled at <c>TraceSampleRatio</c> × ratio and routing re-checks run every
/// <c>RoutingCheckEveryNTokens</c> ÷ ratio tokens. Latency distributions are never thinned: the controllers read them.
/// </summary>
[GenerateSerializer, Immutable, Alias("moe.TelemetrySamplingView")]
public sealed record TelemetrySamplingView
{
    /// <summary>0 until the controllers first change sampling.</summary>
    [Id(0)] public long Version { get; init; }
    /// <summary>In (0, 1]; 1 samples as configured.</summary>
    [Id(1)] public double Ratio { get; init; } = 1;
    [Id(2)] public string ChangedBy { get; init; } = "";
    [Id(3)] public string Reason { get; init; } = "";
    [Id(4)] public DateTimeOffset? At { get; init; }
}

/// <summary>What the controllers of one model are doing.</summary>
[GenerateSerializer, Immutable, Alias("moe.ControllerStatus")]
public sealed record ControllerStatus
{
    [Id(0)] public required string Model { get; init; }
    [Id(1)] public bool Enabled { get; init; }
    [Id(2)] public bool DryRun { get; init; }
    [Id(3)] public TimeSpan Interval { get; init; }
    /// <summary>When the last interval ran; null before the first.</summary>
    [Id(4)] public DateTimeOffset? LastTickAt { get; init; }
    [Id(5)] public long Ticks { get; init; }
    [Id(6)] public RankControlStatus[] Ranks { get; init; } = [];
    [Id(7)] public ExpertPin[] Pins { get; init; } = [];
    /// <summary>The last interval's dollars per 1k tokens over all ranks (cost controller's report); null when no token was served.</summary>
    [Id(8)] public double? DollarsPerThousandTokens { get; init; }
    /// <summary>The last interval's error, if one stopped it early (it is logged; the timer keeps going).</summary>
    [Id(9)] public string? LastError { get; init; }
    /// <summary>True while the interval timer runs (started by the silos when <c>Moe:Control:Enabled</c>).</summary>
    [Id(10)] public bool Running { get; init; }
    /// <summary>The telemetry sampling in force (see <see cref="ITierControllerGrain.GetSamplingAsync"/>).</summary>
    [Id(11)] public TelemetrySamplingView Sampling { get; init; } = new();
    /// <summary>
    /// Ranks whose telemetry summaries stopped arriving at the last interval: their latency and tokens are missing from
    /// what the controllers read (with every rank stale they see no latency and hold).
    /// </summary>
    [Id(12)] public string[] StaleTelemetryRanks { get; init; } = [];
}

/// <summary>One rank as the controllers left it after the last interval.</summary>
[GenerateSerializer, Immutable, Alias("moe.RankControlStatus")]
public sealed record RankControlStatus
{
    [Id(0)] public int Rank { get; init; }
    [Id(1)] public long TierSetVersion { get; init; }
    /// <summary>The hot bytes the latency controller lets the rank use; null before its first interval.</summary>
    [Id(2)] public long? HotAllowanceBytes { get; init; }
    /// <summary>Bytes of the experts assigned hot, and the rank's hot budget (its ceiling: configured or set by an operator).</summary>
    [Id(3)] public long HotAssignedBytes { get; init; }
    [Id(4)] public long HotBudgetBytes { get; init; }
    [Id(5)] public long WarmAssignedBytes { get; init; }
    [Id(6)] public long WarmBudgetBytes { get; init; }
    /// <summary>Hits over acquisitions during the last interval; null when there was none.</summary>
    [Id(7)] public double? HitRatio { get; init; }
    [Id(8)] public double IntervalDollars { get; init; }
    [Id(9)] public double? DollarsPerThousandTokens { get; init; }
    /// <summary>The hot bytes the rank's store may hold now: the allowance plus room for transient copies, under the budget.</summary>
    [Id(10)] public long HotLimitBytes { get; init; }
}

/// <summary>An operator's pin: the expert stays in the tier until unpinned.</summary>
[GenerateSerializer, Immutable, Alias("moe.ExpertPin")]
public sealed record ExpertPin
{
    [Id(0)] public required string Expert { get; init; }
    [Id(1)] public required string Tier { get; init; }
    [Id(2)] public required string By { get; init; }
    [Id(3)] public required string Reason { get; init; }
    [Id(4)] public DateTimeOffset At { get; init; }
}
