using Orleans.Concurrency;

namespace MoeRuntime.Grains;

/// <summary>
/// Canary trials of control changes for one model (keyed by model name). A TierSet change (experts' tiers, optionally a
/// new hot budget) is written on the canary ranks only; every interval the canary ranks' figures are judged against the
/// other ranks' over the same interval (the noise rule of <c>MoeRuntime.Control.Canary.CanaryJudge</c>); the change is
/// then promoted to every rank or rolled back (the canary ranks' previous tiers and budget restored). Every step is in
/// the model's decision log under controller <c>canary</c>. One trial at a time; the tier controllers leave the canary
/// ranks alone while it runs.
/// </summary>
public interface ICanaryGrain : IGrainWithStringKey
{
    /// <summary>
    /// Writes the change (tiers, prefetch settings, or a placement plan for the canary ranks' routers) on the canary ranks and
    /// starts judging it; refused when a trial is under way, canaries are off, or fewer than two ranks are live.
    /// </summary>
    Task<CanaryStatus> StartAsync(CanaryRequest request);

    /// <summary>Judges one interval now (the timer does so every control interval); returns the status after it.</summary>
    Task<CanaryStatus> TickAsync();

    Task<CanaryStatus> GetStatusAsync();

    /// <summary>
    /// Ends the trial under way by an operator's word: <paramref name="promote"/> writes the change on every rank, otherwise
    /// it is rolled back (the way to cancel a trial). Refused when no trial is under way.
    /// </summary>
    Task<CanaryStatus> EndAsync(bool promote, string by, string reason);

    /// <summary>
    /// A tier controller's plan for one rank that moves more than <c>Moe:Control:Canary:AutoTrialAbove</c> experts: written
    /// on that rank as a trial (every other live rank is its control) unless a trial is under way, in which case it is
    /// refused and not written (the controller plans again from fresh state next interval). Promoted, it stays where it
    /// is (a plan is for its rank's experts); rolled back, the rank's previous tiers and hot limit are written back.
    /// </summary>
    Task<CanaryPlanOutcome> SubmitPlanAsync(CanaryPlan plan);

    /// <summary>
    /// The balancer's placement plan (with <c>Moe:Control:Canary:PlacementTrials</c>): written as a new placement map
    /// version, checked against the version the plan was made from, whose new replicas only the canary ranks' routers use;
    /// judged canary routers against the others. Promoted, the plan is written for every router as the next version;
    /// rolled back, the replaced placements are written back as a new version. Refused while any trial is under way.
    /// </summary>
    Task<CanaryPlanOutcome> SubmitPlacementAsync(CanaryPlacementPlan plan);

    /// <summary>The ranks carrying a TierSet change under trial: the tier controllers do not write them meanwhile.</summary>
    [AlwaysInterleave]
    Task<int[]> GetHeldRanksAsync();
}

/// <summary>A placement plan to try on the canary ranks' routers first.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryPlacementPlan")]
public sealed record CanaryPlacementPlan
{
    /// <summary>Expert key to its replicas under the plan (an empty list: back to the default placement).</summary>
    [Id(0)] public Dictionary<string, int[]> Replicas { get; init; } = [];
    /// <summary>The placement map version the plan was made from.</summary>
    [Id(1)] public long ExpectedVersion { get; init; }
    [Id(2)] public required string By { get; init; }
    [Id(3)] public required string Reason { get; init; }
    /// <summary>The plan's changes in words.</summary>
    [Id(4)] public string[] Changes { get; init; } = [];
    /// <summary>Metrics to judge on (names); empty: inter-token p95, TTFT p95 and hot hit ratio.</summary>
    [Id(5)] public string[] Metrics { get; init; } = [];
}

/// <summary>A TierSet change to try on a canary first.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryRequest")]
public sealed record CanaryRequest
{
    /// <summary>Expert key (<c>model/layer/expert</c>) to tier (hot, warm, cold); experts a rank does not hold are skipped there.</summary>
    [Id(0)] public Dictionary<string, string> Tiers { get; init; } = [];
    /// <summary>A new hot budget (ceiling) for the canary ranks, bytes; null keeps theirs.</summary>
    [Id(1)] public long? HotBudgetBytes { get; init; }
    /// <summary>Metrics the change targets (itl_p95_s, ttft_p95_s, hit_ratio, stall_s_per_1k_calls, usd_per_1k_tokens); empty: the first four.</summary>
    [Id(2)] public string[] Metrics { get; init; } = [];
    [Id(3)] public required string By { get; init; }
    [Id(4)] public required string Reason { get; init; }
    /// <summary>
    /// New prefetch settings for the canary ranks instead of a TierSet change (a trial changes one or the other):
    /// promoted, they become the cluster's settings; rolled back, the canary ranks use the cluster's again.
    /// </summary>
    [Id(5)] public PrefetchSettingsChange? Prefetch { get; init; }
    /// <summary>
    /// A placement plan instead (expert key to the ranks of its replicas, an empty list: its default grain): an operator's
    /// placement trial, tried as the balancer's plans are (<see cref="ICanaryGrain.SubmitPlacementAsync"/>): only the canary
    /// ranks' routers route those experts by it until it is promoted or rolled back.
    /// </summary>
    [Id(6)] public Dictionary<string, int[]> Placement { get; init; } = [];
}

/// <summary>A tier controller's plan for one rank, sent to a canary trial because of its size.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryPlan")]
public sealed record CanaryPlan
{
    [Id(0)] public int Rank { get; init; }
    /// <summary>Expert key to tier name, as the plan moves them.</summary>
    [Id(1)] public Dictionary<string, string> Tiers { get; init; } = [];
    /// <summary>The rank's new hot limit (under its ceiling), null keeps it.</summary>
    [Id(2)] public long? HotLimitBytes { get; init; }
    /// <summary>The TierSet version the plan was made from; a rank written since refuses it.</summary>
    [Id(3)] public long ExpectedVersion { get; init; }
    /// <summary>Who planned it, as TierSet versions name writers (<c>controller:latency</c>).</summary>
    [Id(4)] public required string Controller { get; init; }
    [Id(5)] public required string Reason { get; init; }
}

/// <summary>What became of a submitted plan: a trial (its id and the TierSet version written) or why not.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryPlanOutcome")]
public sealed record CanaryPlanOutcome
{
    [Id(0)] public long? TrialId { get; init; }
    [Id(1)] public long Version { get; init; }
    [Id(2)] public string Refusal { get; init; } = "";
}

/// <summary>The trial under way, if any, and the newest verdicts.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryStatus")]
public sealed record CanaryStatus
{
    [Id(0)] public required string Model { get; init; }
    [Id(1)] public bool Enabled { get; init; }
    [Id(2)] public CanaryTrialView? Trial { get; init; }
    /// <summary>Ended trials, newest first.</summary>
    [Id(3)] public CanaryTrialView[] Recent { get; init; } = [];
    /// <summary>Intervals judged before promotion, and from how many a metric is judged.</summary>
    [Id(4)] public int Intervals { get; init; }
    [Id(5)] public int MinIntervals { get; init; }
}

/// <summary>One trial: what it changed where, and how it has been judged.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryTrialView")]
public sealed record CanaryTrialView
{
    [Id(0)] public long Id { get; init; }
    [Id(1)] public DateTimeOffset StartedAt { get; init; }
    [Id(2)] public required string By { get; init; }
    [Id(3)] public required string Reason { get; init; }
    [Id(4)] public Dictionary<string, string> Tiers { get; init; } = [];
    [Id(5)] public long? HotBudgetBytes { get; init; }
    [Id(6)] public int[] CanaryRanks { get; init; } = [];
    [Id(7)] public int[] ControlRanks { get; init; } = [];
    [Id(8)] public string[] Metrics { get; init; } = [];
    /// <summary>Intervals judged so far.</summary>
    [Id(9)] public int Intervals { get; init; }
    /// <summary>continue while under way; promoted or rolled back once ended.</summary>
    [Id(10)] public required string Verdict { get; init; }
    /// <summary>The last judgement's reason (or the operator's, when forced).</summary>
    [Id(11)] public string Judgement { get; init; } = "";
    [Id(12)] public CanaryMetricView[] Figures { get; init; } = [];
    [Id(13)] public DateTimeOffset? EndedAt { get; init; }
    /// <summary><c>tiers</c> (an operator's TierSet change), <c>plan</c> (a tier controller's plan for one rank) or <c>prefetch</c> (prefetch settings).</summary>
    [Id(14)] public string Kind { get; init; } = CanaryKinds.Tiers;
    /// <summary>The prefetch settings under trial (kind <c>prefetch</c>).</summary>
    [Id(15)] public PrefetchSettingsChange? Prefetch { get; init; }
    /// <summary>The hot limit a controller's plan wrote with its moves (kind <c>plan</c>).</summary>
    [Id(16)] public long? HotLimitBytes { get; init; }
    /// <summary>A placement trial's plan: expert key to its replicas under the plan.</summary>
    [Id(17)] public Dictionary<string, int[]> Placement { get; init; } = [];
    /// <summary>A placement trial's map versions: the one it replaced and the one it wrote.</summary>
    [Id(18)] public long[] PlacementVersions { get; init; } = [];
}

/// <summary>The kinds of change a canary trial carries.</summary>
public static class CanaryKinds
{
    public const string Tiers = "tiers";
    public const string Plan = "plan";
    public const string Prefetch = "prefetch";
    public const string Placement = "placement";
}

/// <summary>One metric as last judged: the canary's and the control's medians, the control's MAD, the threshold and the harm.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryMetricView")]
public sealed record CanaryMetricView
{
    [Id(0)] public required string Metric { get; init; }
    [Id(1)] public double CanaryMedian { get; init; }
    [Id(2)] public double ControlMedian { get; init; }
    [Id(3)] public double ControlMad { get; init; }
    [Id(4)] public double Threshold { get; init; }
    /// <summary>How much worse the canary is, in the metric's units (negative: better).</summary>
    [Id(5)] public double Harm { get; init; }
    [Id(6)] public int CanaryIntervals { get; init; }
    [Id(7)] public int ControlSamples { get; init; }
}
