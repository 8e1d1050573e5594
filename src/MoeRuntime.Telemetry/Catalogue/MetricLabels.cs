namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>Every label the catalogue uses. Values are closed sets wherever the domain allows.</summary>
public static class MetricLabels
{
    /// <summary>Longest value accepted for a bounded (open) label.</summary>
    public const int MaxValueLength = 64;

    /// <summary>Upper bound on <c>layer</c> × <c>expert</c> series per model that the docs promise (64 layers × 256 experts).</summary>
    public const int ExpertLabelBound = 64 * 256;

    /// <summary>Implicit on model-scoped series: the loaded checkpoint's name.</summary>
    public static readonly LabelDefinition Model = LabelDefinition.Bounded("model", "models loaded on the rank (a handful)");

    /// <summary>Implicit on every series: the rank id.</summary>
    public static readonly LabelDefinition Rank = LabelDefinition.Bounded("rank", "ranks in the cluster");

    /// <summary>Tenants counted apart on one rank; later tenants share <see cref="OtherTenant"/>.</summary>
    public const int TenantBound = 64;

    /// <summary>The tenant value of every tenant past <see cref="TenantBound"/> on a rank.</summary>
    public const string OtherTenant = "other";

    /// <summary>A request's tenant as its keyed pseudonym (never the name), or <see cref="OtherTenant"/>.</summary>
    public static readonly LabelDefinition Tenant = LabelDefinition.Bounded("tenant",
        $"tenant pseudonyms; at most {TenantBound} per rank, the rest counted as \"{OtherTenant}\"");

    /// <summary>Client-facing entry point: the router's GenerateAsync or StreamAsync (the HTTP front door streams).</summary>
    public static readonly LabelDefinition Route = new("route", "generate", "stream");

    /// <summary>
    /// How a request ended (seed 001's statuses): <c>timeout</c> past its deadline, <c>partial</c> failed after the client had
    /// received tokens of it, <c>error</c> failed before.
    /// </summary>
    public static readonly LabelDefinition Status = new("status", "success", "error", "timeout", "partial");

    /// <summary>
    /// Failure class; <c>none</c> on successes so that one counter carries every status. <c>oom</c>: out of memory (managed, or
    /// libtorch's allocator); <c>device_error</c>: a libtorch error naming the accelerator; <c>tokenization_error</c>: the
    /// tokenizer failed on the prompt (not a prompt refused for its regex timeout, which is <c>invalid_request</c>);
    /// <c>rejected</c>: the admission queue was full; <c>shutting_down</c>: the rank was draining.
    /// </summary>
    public static readonly LabelDefinition ErrorType = new("error_type",
        "none", "timeout", "oom", "device_error", "invalid_request", "model_not_found",
        "inference_error", "tokenization_error", "integrity_error", "cancelled", "rejected", "shutting_down", "internal");

    /// <summary>
    /// The <c>error_type</c> values the client caused: a malformed request, a model the cluster does not serve, a
    /// stream the client cancelled. The one availability definition: a request is bad when its <c>status</c> is not
    /// <c>success</c> and its error type is not one of these; requests with these error types are not valid events
    /// and are left out of the denominator too. The aggregator's availability and error-rate objectives and the
    /// recording rules <c>moe:error_ratio:*</c> both use it (docs/metrics.md lists it; a deploy test checks the rules).
    /// </summary>
    public static readonly IReadOnlyList<string> ClientCausedErrorTypes = ["invalid_request", "model_not_found", "cancelled"];

    /// <summary>Operator urgency of an error.</summary>
    public static readonly LabelDefinition Severity = new("severity", "critical", "warning", "info");

    /// <summary>
    /// Why admission refused a request: the batcher's queue was full, the front door's tenant was over its limit, or the
    /// rank was draining.
    /// </summary>
    public static readonly LabelDefinition RejectReason = new("reason", "queue_full", "over_limit", "shutting_down");

    /// <summary>Why a client resumed a request on another rank.</summary>
    public static readonly LabelDefinition ResumeReason = new("reason", "rank_lost", "shutting_down", "other");

    /// <summary>Storage tier of an expert's weights.</summary>
    public static readonly LabelDefinition Tier = new("tier", "hot", "warm", "cold");

    /// <summary>Decoder layer index.</summary>
    public static readonly LabelDefinition Layer = LabelDefinition.Bounded("layer", "the model's layer count");

    /// <summary>Expert index within a layer; only on the layer × expert matrices.</summary>
    public static readonly LabelDefinition Expert = LabelDefinition.Bounded("expert",
        $"the model's experts per layer; with layer at most {ExpertLabelBound} series per model");

    /// <summary>Prompt or completion side of token accounting.</summary>
    public static readonly LabelDefinition TokenType = new("token_type", "prompt", "completion");

    /// <summary>Split of per-token compute time.</summary>
    public static readonly LabelDefinition ComputeComponent = new("component", "attention", "expert");

    /// <summary>Split of per-token I/O time.</summary>
    public static readonly LabelDefinition IoComponent = new("component", "dispatch", "tier_fetch");

    /// <summary>
    /// How a model load started. A rank loads its model once, from disk, when its process starts; there is no warm or
    /// cached load, so seed 001's <c>warm_start</c> and <c>cache_hit</c> are not values.
    /// </summary>
    public static readonly LabelDefinition LoadType = new("load_type", "cold_start");

    /// <summary>
    /// Silo start-up phase: loading config, tokenizer and dense model; setting up the expert checkpoint and tier store;
    /// the whole time from process start until the silo took traffic. Nothing warms up (experts are fetched on first use).
    /// </summary>
    public static readonly LabelDefinition StartupPhase = new("phase", "model_load", "cache_init", "ready");

    /// <summary>
    /// Part of one layer of a distributed step: attention and gate on the router's rank; its expert dispatch split into
    /// serialising the rows, the slowest call's send (and queue), its expert's decode, compute and encode, its return,
    /// the join of every call, and combining the answers.
    /// </summary>
    public static readonly LabelDefinition StepPhase = new("phase", "attention", "gate", "serialise", "send", "remote_decode",
        "remote_compute", "remote_encode", "return", "join", "combine");

    /// <summary>Direction of expert-dispatch traffic as seen from this rank.</summary>
    public static readonly LabelDefinition Direction = new("direction", "sent", "received");

    /// <summary>Fate of prefetched bytes.</summary>
    public static readonly LabelDefinition PrefetchOutcome = new("outcome", "used", "wasted");

    /// <summary>Layers between the one pre-gating predicted from and the one predicted (1 = the next layer).</summary>
    public static readonly LabelDefinition Lookahead = LabelDefinition.Bounded("lookahead",
        "layers ahead the routers pre-gate, at most the prefetch controller's MaxLookahead (4 by default)");

    /// <summary>Series bound of the pre-gating counters: layers (up to 64) × lookahead (up to 8).</summary>
    public const int PregatingSeriesBound = 64 * 8;

    /// <summary>What became of a finished request the shadow candidate was to score.</summary>
    public static readonly LabelDefinition ShadowOutcome = new("outcome", "scored", "dropped", "failed");

    /// <summary>Which of the two models of a shadow evaluation scored.</summary>
    public static readonly LabelDefinition ShadowScorer = new("scorer", "primary", "candidate");

    /// <summary>Series bound of the per-layer shadow metrics: up to 64 layers.</summary>
    public const int ShadowLayerSeriesBound = 64;

    /// <summary>Why an expert left a tier.</summary>
    public static readonly LabelDefinition EvictionKind = new("kind", "forced", "planned");

    /// <summary>Result of a KV-cache lookup.</summary>
    public static readonly LabelDefinition CacheResult = new("result", "hit", "miss");

    /// <summary>Telemetry HTTP endpoint that refused a caller.</summary>
    public static readonly LabelDefinition Endpoint = new("endpoint", "metrics", "views", "dashboard");

    /// <summary>Why the telemetry pipeline itself dropped data.</summary>
    /// <summary>
    /// Why an expert copy was quarantined: its output had NaN or infinity, its weights differ from the checkpoint manifest's
    /// SHA-256 (digest) or from the bytes hashed at registration (integrity).
    /// </summary>
    public static readonly LabelDefinition QuarantineReason = new("reason", "nan", "digest", "integrity");

    public static readonly LabelDefinition DropReason = new("reason", "series_cap", "digest_overflow", "interval_failed");

    /// <summary>The distribution a cluster quantile belongs to (one of the histograms of this catalogue).</summary>
    public static readonly LabelDefinition SourceMetric = LabelDefinition.Bounded("metric", "the catalogue's histograms");

    /// <summary>
    /// Quantiles the cluster aggregator serves. Not named <c>quantile</c>: Prometheus reserves that label
    /// for summaries, and <c>promtool check metrics</c> flags it on a gauge.
    /// </summary>
    public static readonly LabelDefinition Quantile = new("q", "0.5", "0.9", "0.95", "0.99");

    /// <summary>Who made a control decision, as the decision log names it.</summary>
    public static readonly LabelDefinition Controller = LabelDefinition.Bounded("controller",
        "the controllers and their operators: latency, cost, prefetch, balancer, canary, operator");

    /// <summary>What a control decision did: its outcome, or for the canary the trial's step.</summary>
    public static readonly LabelDefinition ControlAction = new("action",
        "applied", "proposed", "refused", "canary_start", "canary_judge", "canary_promote", "canary_rollback");

    /// <summary>The runtime's version: the assembly's informational version without its source revision.</summary>
    public static readonly LabelDefinition BuildVersion = LabelDefinition.Bounded("version", "one per deployed build");

    /// <summary>The source revision (git commit) the runtime was built from, or <c>unknown</c>.</summary>
    public static readonly LabelDefinition Commit = LabelDefinition.Bounded("commit", "one per deployed build");

    /// <summary>The checkpoint revision the operator named (<c>Moe:ModelRevision</c>), or <c>unknown</c>.</summary>
    public static readonly LabelDefinition ModelRevision = LabelDefinition.Bounded("revision", "one per deployed checkpoint");

    /// <summary>SHA-256 of the checkpoint's <c>moe-manifest.json</c>, or <c>none</c> when it has no manifest.</summary>
    public static readonly LabelDefinition ModelChecksum = LabelDefinition.Bounded("checksum", "one per deployed checkpoint");

    /// <summary>Sequences in one step of the continuous batch, in a handful of ranges (<see cref="BatchSizeOf"/>).</summary>
    public static readonly LabelDefinition BatchSizeBucket = new("batch_size", "1", "2-4", "5-16", "17-64", "65+");

    /// <summary>
    /// The longest context (cached positions plus the step's new tokens) of a step's sequences, in a handful of ranges
    /// (<see cref="ContextLengthOf"/>).
    /// </summary>
    public static readonly LabelDefinition ContextLengthBucket = new("context_length", "1-512", "513-2048", "2049-8192", "8193-32768", "32769+");

    /// <summary>The <see cref="BatchSizeBucket"/> value of a step of <paramref name="sequences"/> sequences (at least 1).</summary>
    public static string BatchSizeOf(int sequences) => sequences switch
    {
        < 1 => throw new ArgumentOutOfRangeException(nameof(sequences), sequences, "a step has at least one sequence"),
        1 => "1",
        <= 4 => "2-4",
        <= 16 => "5-16",
        <= 64 => "17-64",
        _ => "65+",
    };

    /// <summary>The <see cref="ContextLengthBucket"/> value of a step whose longest context is <paramref name="positions"/> (at least 1).</summary>
    public static string ContextLengthOf(int positions) => positions switch
    {
        < 1 => throw new ArgumentOutOfRangeException(nameof(positions), positions, "a step's context has at least one position"),
        <= 512 => "1-512",
        <= 2048 => "513-2048",
        <= 8192 => "2049-8192",
        <= 32768 => "8193-32768",
        _ => "32769+",
    };

    /// <summary>The TorchSharp device type a rank computes on, on its compute-time series.</summary>
    public static readonly LabelDefinition Device = new("device", "cpu", "cuda");

    /// <summary>The TorchSharp device type the rank computes on.</summary>
    public static readonly LabelDefinition Backend = new("backend", "cpu", "cuda");

    /// <summary>What part of the process's memory a memory gauge measures.</summary>
    public static readonly LabelDefinition ProcessMemoryKind = new("kind", "resident", "managed_heap");

    /// <summary>Aggregation windows.</summary>
    public static readonly LabelDefinition Window = new("window", "1m", "5m", "1h");

    /// <summary>Service-level objectives of the views.</summary>
    public static readonly LabelDefinition Slo = new("slo", "latency_p50", "latency_p95", "latency_p99", "ttft_p95", "throughput", "error_rate", "availability");

    /// <summary>
    /// Why an aggregator refused a summary (or a batch of routing digests): bytes that are no summary, over the codec's
    /// limits, of another schema version, a sequence number it already merged, sent for a rank by a silo that is not that
    /// rank's, or a sequence number that jumps further than the elapsed intervals explain.
    /// </summary>
    public static readonly LabelDefinition SummaryRejectReason = new("reason", "malformed", "oversized", "version", "duplicate", "wrong_rank", "sequence_jump");

    /// <summary>What the rank refused for who sent it.</summary>
    public static readonly LabelDefinition SecurityDenialKind = new("kind", "grain_role", "signed_call", "summary_rank", "sequence_jump");
}
