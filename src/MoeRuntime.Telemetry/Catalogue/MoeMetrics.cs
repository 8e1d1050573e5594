using static MoeRuntime.Telemetry.Catalogue.MetricLabels;

namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>
/// The catalogue: every metric the runtime exports, the one source from which collectors, exporters
/// and <c>docs/metrics.md</c> are derived. Meanings follow the seeds; names carry the <c>moe_</c> prefix.
/// </summary>
public static class MoeMetrics
{
    // Requests

    /// <summary>Requests finished, by route, status and error type.</summary>
    public static readonly MetricDefinition RequestsTotal = Counter("moe_requests_total", "{request}",
        "Requests finished, by how they ended.", Route, Status, ErrorType);

    /// <summary>Errors by type and severity.</summary>
    public static readonly MetricDefinition ErrorsTotal = Counter("moe_errors_total", "{error}",
        "Errors raised while serving, by class and severity.", ErrorType, Severity);

    /// <summary>Retries of a request or an expert call.</summary>
    public static readonly MetricDefinition RetriesTotal = Counter("moe_request_retries_total", "{retry}",
        "Retries of a request or of one of its expert calls.", Route);

    /// <summary>Expert calls hedged to a copy on the calling rank.</summary>
    public static readonly MetricDefinition ExpertCallHedgesTotal = Counter("moe_expert_call_hedges_total", "{call}",
        "Expert calls to another rank that had not answered within the hedge delay (four times the slowest recent call, at least Moe:ExpertCallHedgeAfter) and were also sent to a copy of the expert on the calling rank; the first answer wins.");

    /// <summary>Requests in flight.</summary>
    public static readonly MetricDefinition ActiveRequests = Gauge("moe_active_requests", "{request}",
        "Requests admitted and not yet finished.", Route);

    /// <summary>Token streams open to clients.</summary>
    public static readonly MetricDefinition ActiveStreams = Gauge("moe_active_streams", "{stream}",
        "Token streams currently open to clients.", Route);

    /// <summary>Requests waiting for admission to the batch.</summary>
    public static readonly MetricDefinition QueueDepth = Gauge("moe_queue_depth", "{request}",
        "Requests waiting in the admission queue.", Route);

    /// <summary>Time from receipt to admission into the batch.</summary>
    public static readonly MetricDefinition QueueWaitSeconds = Histogram("moe_queue_wait_seconds",
        "Time a request waited in the admission queue.", HistogramBuckets.QueueSeconds, Route);

    /// <summary>Requests refused by admission control.</summary>
    public static readonly MetricDefinition AdmissionRejectsTotal = Counter("moe_admission_rejects_total", "{request}",
        "Requests refused by admission control.", Route, RejectReason);

    /// <summary>Streams broken before their last token.</summary>
    public static readonly MetricDefinition StreamResetsTotal = Counter("moe_stream_resets_total", "{stream}",
        "Token streams that ended before their last token.", Route);

    /// <summary>Requests resumed here after the rank serving them was lost or stopped.</summary>
    public static readonly MetricDefinition RequestsResumedTotal = Counter("moe_requests_resumed_total", "{request}",
        "Requests a client resumed on this rank, with the tokens it already had, after the rank serving them was lost or stopped; the request itself counts once in moe_requests_total, where it ends.",
        Route, ResumeReason);

    // Latency

    /// <summary>End-to-end latency.</summary>
    public static readonly MetricDefinition RequestDurationSeconds = Histogram("moe_request_duration_seconds",
        "Time from request receipt to its last token.", HistogramBuckets.RequestSeconds, Route);

    /// <summary>TTFT.</summary>
    public static readonly MetricDefinition TimeToFirstTokenSeconds = Histogram("moe_time_to_first_token_seconds",
        "Time from request receipt to its first token (TTFT).", HistogramBuckets.TimeToFirstTokenSeconds, Route);

    /// <summary>TPOT / inter-token latency.</summary>
    public static readonly MetricDefinition TimePerOutputTokenSeconds = Histogram("moe_time_per_output_token_seconds",
        "Time between consecutive tokens of one stream (TPOT).", HistogramBuckets.TimePerOutputTokenSeconds,
        sampled: true, Route);

    /// <summary>A step of the batch that prefilled a prompt.</summary>
    public static readonly MetricDefinition PrefillSeconds = Histogram("moe_prefill_duration_seconds",
        "Time of one step of the continuous batch that prefilled at least one prompt (its other sequences decode in the same step), by the step's batch size and longest context.",
        HistogramBuckets.StepSeconds, BatchSizeBucket, ContextLengthBucket);

    /// <summary>One decode step of the continuous batch.</summary>
    public static readonly MetricDefinition DecodeStepSeconds = Histogram("moe_decode_step_duration_seconds",
        "Time of one decode step of the whole batch (no prompt prefilled in it), by the step's batch size and longest context.",
        HistogramBuckets.StepSeconds, BatchSizeBucket, ContextLengthBucket);

    /// <summary>Compute time per token of one call: one observation per layer per step (attention) or per expert call (expert).</summary>
    public static readonly MetricDefinition TokenComputeSeconds = Histogram("moe_token_compute_seconds",
        "Compute time of one layer call divided by the tokens it carried, observed on every call (not sampled): attention = one layer's norms, attention, gate and shared expert in one step (once per layer per step); expert = one routed expert's FFN call (once per expert call, on the rank hosting the expert).",
        HistogramBuckets.FineSeconds, ComputeComponent, Device);

    /// <summary>I/O time per token of one call: one observation per layer per step (dispatch) or per expert call that fetched (tier_fetch).</summary>
    public static readonly MetricDefinition TokenIoSeconds = Histogram("moe_token_io_seconds",
        "Wait time of one layer call divided by the tokens it carried, observed on every call (not sampled): dispatch = one layer's routed-expert calls in one step, wall time from sending to the last answer (their remote compute and fetches included; once per layer per step); tier_fetch = one expert call's fetch of weights that were not hot (once per such call, on the rank hosting the expert).",
        HistogramBuckets.FineSeconds, IoComponent);

    /// <summary>Where one layer of a step spent its time on the router's rank, by phase: once per layer per step.</summary>
    public static readonly MetricDefinition StepPhaseSeconds = Histogram("moe_step_phase_seconds",
        "Time of one layer of one step by phase, observed on the router's rank once per layer per step (not sampled): attention (norms, attention, MoE input norm) and gate (top-k, shared expert), then the layer's expert dispatch split along its slowest call: serialise (rows gathered and copied into payloads), send (the slowest call until its expert began: serialisation, wire, the expert's queue), remote_decode, remote_compute and remote_encode (reported by the expert's rank in its answer), return (from the expert's answer until the router had it), join (until every call of the layer had settled) and combine (answers decoded and added). The dispatch phases add up to the layer's dispatch time; send and return are split only when the ranks share a host clock, otherwise send holds both.",
        HistogramBuckets.FineSeconds, StepPhase);

    /// <summary>Sampler time per step.</summary>
    public static readonly MetricDefinition SamplerSeconds = Histogram("moe_sampler_duration_seconds",
        "Time the sampler took to pick the batch's next tokens.", HistogramBuckets.FineSeconds);

    /// <summary>Tokenizer time per call.</summary>
    public static readonly MetricDefinition TokenizerSeconds = Histogram("moe_tokenizer_duration_seconds",
        "Time to encode a prompt or decode a completion.", HistogramBuckets.FineSeconds);

    /// <summary>Model load.</summary>
    public static readonly MetricDefinition ModelLoadSeconds = Histogram("moe_model_load_duration_seconds",
        "Time to load a model until it is ready to serve.", HistogramBuckets.ModelLoadSeconds, LoadType);

    /// <summary>Silo start-up by phase.</summary>
    public static readonly MetricDefinition StartupPhaseSeconds = new("moe_startup_phase_duration_seconds",
        MetricKind.Histogram, "s", "Time of each start-up phase of the silo.", [StartupPhase],
        HistogramBuckets.StartupSeconds, scope: MetricScope.Rank);

    // Tokens and cost

    /// <summary>Prompt and completion tokens.</summary>
    public static readonly MetricDefinition TokensTotal = Counter("moe_tokens_total", "{token}",
        "Tokens processed: prompt tokens prefilled and completion tokens generated.", TokenType);

    /// <summary>Tokens per request.</summary>
    public static readonly MetricDefinition TokensPerRequest = new("moe_tokens_per_request", MetricKind.Histogram,
        "{token}", "Prompt and completion length of finished requests.", [TokenType], HistogramBuckets.TokensPerRequest);

    /// <summary>Per-request generation rate.</summary>
    public static readonly MetricDefinition RequestTokensPerSecond = new("moe_request_tokens_per_second", MetricKind.Histogram,
        "{token}/s", "Completion tokens per second of each finished request.", [Route], HistogramBuckets.TokensPerSecond);

    /// <summary>Batch sizes of decode steps.</summary>
    public static readonly MetricDefinition BatchSize = new("moe_batch_size", MetricKind.Histogram,
        "{request}", "Requests in each decode step's batch.", [], HistogramBuckets.BatchSize);

    /// <summary>Token cost estimate.</summary>
    public static readonly MetricDefinition TokenCostUsdTotal = new("moe_token_cost_usd_total", MetricKind.Counter,
        "USD", "Estimated cost of tokens at the configured $ per 1k prompt/completion tokens.", [TokenType],
        source: MetricSource.Computed);

    /// <summary>Tokens by tenant: the per-tenant share of <see cref="TokensTotal"/>.</summary>
    public static readonly MetricDefinition TenantTokensTotal = new("moe_tenant_tokens_total", MetricKind.Counter,
        "{token}", "Prompt and completion tokens of finished requests by tenant pseudonym.", [Tenant, TokenType],
        maxSeries: 2 * (MetricLabels.TenantBound + 1));

    /// <summary>Token cost estimate by tenant.</summary>
    public static readonly MetricDefinition TenantTokenCostUsdTotal = new("moe_tenant_token_cost_usd_total", MetricKind.Counter,
        "USD", "Estimated cost of each tenant's tokens at the configured $ per 1k prompt/completion tokens.", [Tenant, TokenType],
        source: MetricSource.Computed, maxSeries: 2 * (MetricLabels.TenantBound + 1));

    /// <summary>Tier memory cost estimate.</summary>
    public static readonly MetricDefinition TierCostUsdTotal = new("moe_tier_cost_usd_total", MetricKind.Counter,
        "USD", "Estimated cost of expert memory at the configured $ per tier-GB-hour.", [Tier],
        source: MetricSource.Computed);

    // MoE: experts and tiers

    /// <summary>Tokens routed to each expert.</summary>
    public static readonly MetricDefinition ExpertHitsTotal = new("moe_expert_hits_total", MetricKind.Counter,
        "{token}", "Tokens the gate routed to each expert.", [Layer, Expert],
        source: MetricSource.Matrix, maxSeries: ExpertLabelBound);

    /// <summary>Load imbalance per layer.</summary>
    public static readonly MetricDefinition ExpertImbalanceRatio = new("moe_expert_imbalance_ratio", MetricKind.Gauge,
        "1", "Hits of the busiest expert over the mean hits per expert, per layer (1 = balanced).", [Layer],
        source: MetricSource.Derived);

    /// <summary>Expert activations served from each tier.</summary>
    public static readonly MetricDefinition TierHitsTotal = new("moe_tier_hits_total", MetricKind.Counter,
        "{call}", "Expert calls whose weights were found in this tier (hot: no fetch).", [Tier, Layer],
        source: MetricSource.Matrix);

    /// <summary>Expert activations that looked in a tier and did not find the weights there.</summary>
    public static readonly MetricDefinition TierMissesTotal = new("moe_tier_misses_total", MetricKind.Counter,
        "{call}", "Expert calls that did not find the weights in this tier and went one tier down.", [Tier, Layer],
        source: MetricSource.Matrix);

    /// <summary>Share of activations that needed a cold read.</summary>
    public static readonly MetricDefinition ColdMissRatio = new("moe_tier_cold_miss_ratio", MetricKind.Gauge,
        "1", "Expert calls served from cold over all expert calls.", [], source: MetricSource.Derived);

    /// <summary>Fetch latency per tier.</summary>
    public static readonly MetricDefinition TierFetchSeconds = Histogram("moe_tier_fetch_duration_seconds",
        "Time to make an expert hot, by the tier it was fetched from.", HistogramBuckets.TierFetchSeconds, Tier);

    /// <summary>Fetch time summed per tier and layer.</summary>
    public static readonly MetricDefinition TierFetchTimeTotal = new("moe_tier_fetch_time_seconds_total", MetricKind.Counter,
        "s", "Time spent fetching experts, per source tier and layer.", [Tier, Layer], source: MetricSource.Matrix);

    /// <summary>Expert-dispatch bytes.</summary>
    public static readonly MetricDefinition DispatchBytesTotal = Counter("moe_dispatch_bytes_total", "By",
        "Bytes of activations sent to and received from expert calls.", Direction);

    /// <summary>Bytes moved ahead of need.</summary>
    public static readonly MetricDefinition PrefetchBytesTotal = Counter("moe_prefetch_bytes_total", "By",
        "Bytes of expert weights moved up a tier by prefetch.", Tier);

    /// <summary>Prefetched bytes used or evicted unused.</summary>
    public static readonly MetricDefinition PrefetchOutcomeBytesTotal = Counter("moe_prefetch_outcome_bytes_total", "By",
        "Prefetched bytes by whether the expert was used before it was evicted.", PrefetchOutcome);

    /// <summary>Prefetch effectiveness.</summary>
    public static readonly MetricDefinition PrefetchEffectivenessRatio = new("moe_prefetch_effectiveness_ratio", MetricKind.Gauge,
        "1", "Used prefetched bytes over all prefetched bytes whose fate is known.", [], source: MetricSource.Derived);

    /// <summary>Failed or abandoned prefetches.</summary>
    public static readonly MetricDefinition PrefetchFailuresTotal = Counter("moe_prefetch_failures_total", "{prefetch}",
        "Prefetches that failed or were abandoned, by source tier.", Tier);

    /// <summary>Expert slots pre-gating predicted, per layer predicted and layers ahead.</summary>
    public static readonly MetricDefinition PregatingPredictedTotal = new("moe_pregating_predicted_experts_total", MetricKind.Counter,
        "{expert}", "Distinct experts per step that pre-gating predicted for a layer from the layer that many layers before it (lookahead), counted when the layer's gate then chose; precision = moe_pregating_hit_experts_total / this.",
        [Layer, Lookahead], maxSeries: PregatingSeriesBound);

    /// <summary>Expert slots the gate chose where a prediction was made.</summary>
    public static readonly MetricDefinition PregatingActualTotal = new("moe_pregating_actual_experts_total", MetricKind.Counter,
        "{expert}", "Distinct experts per step that a layer's gate chose, once per prediction made for it (per lookahead); recall = moe_pregating_hit_experts_total / this.",
        [Layer, Lookahead], maxSeries: PregatingSeriesBound);

    /// <summary>Expert slots both predicted and chosen.</summary>
    public static readonly MetricDefinition PregatingHitTotal = new("moe_pregating_hit_experts_total", MetricKind.Counter,
        "{expert}", "Distinct experts per step that pre-gating predicted for a layer and the layer's gate then chose.",
        [Layer, Lookahead], maxSeries: PregatingSeriesBound);

    /// <summary>Routing disagreements between ranks.</summary>
    public static readonly MetricDefinition RoutingMismatchesTotal = new("moe_routing_mismatches_total", MetricKind.Counter,
        "{token}", "Tokens two ranks routed differently at one layer (digests disagree).", [Layer],
        source: MetricSource.Derived);

    /// <summary>Expert evictions.</summary>
    public static readonly MetricDefinition EvictionsTotal = Counter("moe_evictions_total", "{eviction}",
        "Experts evicted from a tier: forced by memory pressure or planned by a TierSet change.", Tier, EvictionKind);

    /// <summary>Bytes held per tier.</summary>
    public static readonly MetricDefinition TierMemoryBytes = Gauge("moe_tier_memory_bytes", "By",
        "Bytes of expert weights held in each tier.", Tier);

    /// <summary>Budget per tier.</summary>
    public static readonly MetricDefinition TierCapacityBytes = Gauge("moe_tier_capacity_bytes", "By",
        "Byte budget of each tier in the current TierSet.", Tier);

    /// <summary>Occupancy per tier.</summary>
    public static readonly MetricDefinition TierOccupancyRatio = new("moe_tier_occupancy_ratio", MetricKind.Gauge,
        "1", "Tier memory over tier capacity.", [Tier], source: MetricSource.Derived);

    /// <summary>KV cache size.</summary>
    public static readonly MetricDefinition KvCacheBytes = Gauge("moe_kv_cache_bytes", "By",
        "Bytes held by the attention KV cache.");

    /// <summary>Attention positions per step, read from a sequence's own KV cache (hit) or computed in the step (miss).</summary>
    public static readonly MetricDefinition KvCacheLookupsTotal = Counter("moe_kv_cache_lookups_total", "{lookup}",
        "Attention reads per step: for every token fed through the model, each earlier position of its own sequence read from that sequence's KV cache (hit) and the token itself computed in the step (miss). There is no prefix cache shared across requests: this is not prefix reuse, and the ratio is close to 1 while decoding and lower while prefilling.",
        CacheResult);

    /// <summary>KV cache hit ratio.</summary>
    public static readonly MetricDefinition KvCacheHitRatio = new("moe_kv_cache_hit_ratio", MetricKind.Gauge,
        "1", "KV-cache hits over lookups: the share of attention reads served from the sequences' own caches (decode-heavy load near 1, prefill-heavy load lower); not prefix reuse.", [], source: MetricSource.Derived);

    /// <summary>Router-side compute time per layer, before its routed experts.</summary>
    public static readonly MetricDefinition LayerComputeTimeTotal = new("moe_layer_compute_time_seconds_total", MetricKind.Counter,
        "s", "Compute time each layer spent on the router rank before its routed experts run: norms, attention, the gate and any shared expert. The routed experts' compute is moe_expert_compute_time_seconds_total (on the ranks hosting them), the wait for them moe_token_io_seconds{component=\"dispatch\"}.", [Layer],
        source: MetricSource.Matrix);

    /// <summary>Compute time per expert.</summary>
    public static readonly MetricDefinition ExpertComputeTimeTotal = new("moe_expert_compute_time_seconds_total", MetricKind.Counter,
        "s", "Compute time spent in each expert's FFN.", [Layer, Expert],
        source: MetricSource.Matrix, maxSeries: ExpertLabelBound);

    /// <summary>The process's memory as the operator sees it.</summary>
    public static readonly MetricDefinition ProcessMemoryBytes = new("moe_process_memory_bytes", MetricKind.Gauge,
        "By", "Memory of the rank's process: resident set (RSS, libtorch's native tensors included) and the managed heap.",
        [ProcessMemoryKind], scope: MetricScope.Rank);

    /// <summary>Which build serves the model on this rank.</summary>
    public static readonly MetricDefinition BuildInfo = Gauge("moe_build_info", "1",
        "Always 1: the runtime's version, source commit and compute backend serving the model on this rank.", BuildVersion, Commit, Backend);

    // Security and the pipeline itself

    /// <summary>Refused callers of telemetry endpoints.</summary>
    public static readonly MetricDefinition AccessDenialsTotal = new("moe_telemetry_access_denials_total", MetricKind.Counter,
        "{request}", "Calls to telemetry endpoints refused for a missing or wrong credential.", [Endpoint],
        scope: MetricScope.Rank);

    /// <summary>Integrity failures on cold loads.</summary>
    public static readonly MetricDefinition IntegrityFailuresTotal = Counter("moe_integrity_check_failures_total", "{load}",
        "Expert weights whose integrity check failed when loaded from a tier.", Tier);

    /// <summary>Expert copies taken out of service for producing NaN/infinity or failing their integrity check.</summary>
    public static readonly MetricDefinition ExpertQuarantinedTotal = Counter("moe_expert_quarantined_total", "{expert}",
        "Expert copies quarantined on the rank: their output had NaN or infinity, or their weights failed their integrity check; only the sequences routed to them fail.",
        QuarantineReason);

    /// <summary>Telemetry dropped on the rank.</summary>
    public static readonly MetricDefinition TelemetryDroppedTotal = Counter("moe_telemetry_dropped_total", "{record}",
        "Records the rank's collector dropped: over a metric's series cap, routing digests overwritten before collection, or one per interval that failed to collect or export (the rank's log has the first failure).",
        DropReason);

    /// <summary>Summaries an aggregator refused.</summary>
    public static readonly MetricDefinition SummariesRejectedTotal = new("moe_telemetry_summaries_rejected_total", MetricKind.Counter,
        "{summary}", "Rank summaries (and batches of routing digests) the shard aggregators on this rank refused to merge, by why; exported by the rank that hosts the shard.", [SummaryRejectReason], scope: MetricScope.Rank);

    /// <summary>Calls and telemetry the rank refused for who sent them.</summary>
    public static readonly MetricDefinition SecurityDeniedTotal = new("moe_security_denied_total", MetricKind.Counter,
        "{call}", "Grain calls refused for the caller's role, signed calls whose proof failed, and telemetry refused for its sender (a summary or digest for another rank, an absurd sequence jump).",
        [SecurityDenialKind], scope: MetricScope.Rank);

    /// <summary>The cluster aggregator's merged quantiles, re-exported by every rank.</summary>
    public static readonly MetricDefinition ClusterLatencySeconds = new("moe_cluster_latency_seconds", MetricKind.Gauge,
        "s", "Cluster-wide quantile of a distribution over a window, merged from every rank's sketches.", [SourceMetric, Quantile, Window],
        source: MetricSource.Derived, maxSeries: 512);

    /// <summary>The cluster's error-budget burn per objective.</summary>
    public static readonly MetricDefinition ClusterSloBurnRate = new("moe_cluster_slo_burn_rate", MetricKind.Gauge,
        "1", "How fast each objective's error budget burns over a window (1 = exactly on budget).", [Slo, Window],
        source: MetricSource.Derived);

    /// <summary>Ranks that stopped reporting.</summary>
    public static readonly MetricDefinition ClusterStaleRanks = new("moe_cluster_stale_ranks", MetricKind.Gauge,
        "{rank}", "Ranks whose summaries stopped arriving.", [], source: MetricSource.Derived);

    // Routing drift and release markers (issue 21)

    /// <summary>Per-layer population stability index of expert choices, recent window against the baseline before it.</summary>
    public static readonly MetricDefinition RoutingDriftPsi = new("moe_routing_drift_psi", MetricKind.Gauge,
        "1", "Population stability index of each layer's expert choices, cluster-wide: the recent window (30 s by default) against the baseline just before it (2 min), shares floored at 1e-4; under 0.1 stable, over 0.25 a shift. 0 until both windows hold Moe:Telemetry:RoutingDrift:MinChoices choices.",
        [Layer], source: MetricSource.Derived);

    /// <summary>Per-layer total-variation distance of expert choices between the same windows.</summary>
    public static readonly MetricDefinition RoutingDriftChoiceShiftRatio = new("moe_routing_drift_choice_shift_ratio", MetricKind.Gauge,
        "1", "Total-variation distance of each layer's expert-choice shares between the recent and baseline windows: the smallest share of expert choices that moved to another expert (from counts, so a lower bound on the tokens whose choice changed).",
        [Layer], source: MetricSource.Derived);

    /// <summary>Which checkpoint serves the model on this rank.</summary>
    public static readonly MetricDefinition ModelInfo = Gauge("moe_model_info", "1",
        "Always 1: the checkpoint revision (Moe:ModelRevision) and checksum (SHA-256 of its moe-manifest.json, none without one) serving the model on this rank; a change is a release marker.",
        ModelRevision, ModelChecksum);

    // Shadow evaluation of a candidate checkpoint (docs/drift.md): counters are the mergeable sums, the gauges the rank's
    // ratios of them since it started.

    /// <summary>Finished requests sampled for the shadow candidate, by what became of them.</summary>
    public static readonly MetricDefinition ShadowRequestsTotal = Counter("moe_shadow_requests_total", "{request}",
        "Finished requests sampled (Moe:Shadow:Share, by request id) for the shadow candidate: scored, dropped because the backlog (Moe:Shadow:MaxQueue) was full, or failed while scoring.",
        ShadowOutcome);

    /// <summary>Completion tokens the candidate scored.</summary>
    public static readonly MetricDefinition ShadowTokensTotal = Counter("moe_shadow_tokens_total", "{token}",
        "Completion tokens of scored requests that the shadow candidate scored teacher-forced; the denominator of greedy agreement and log-prob divergence.");

    /// <summary>Completion tokens where the candidate ranks first what the primary ranks first.</summary>
    public static readonly MetricDefinition ShadowGreedyAgreementsTotal = Counter("moe_shadow_greedy_agreements_total", "{token}",
        "Completion tokens at which the candidate's most likely token is the primary's most likely token (both teacher-forced over the same sequence).");

    /// <summary>Σ |log p_primary − log p_candidate| over the scored tokens, in millionths of a nat.</summary>
    public static readonly MetricDefinition ShadowLogprobDivergenceMicronatsTotal = Counter("moe_shadow_logprob_divergence_micronats_total", "{micronat}",
        "Sum over scored completion tokens of the absolute difference log p_primary(token) - log p_candidate(token), in millionths of a nat (integral, so it merges exactly); divided by moe_shadow_tokens_total and 1e6 it is the mean divergence.");

    /// <summary>Positions whose routing was compared, per layer.</summary>
    public static readonly MetricDefinition ShadowRoutingPositionsTotal = Counter("moe_shadow_routing_positions_total", "{position}",
        "Positions (prompt and completion) of scored requests whose top-k experts were compared, the same count at every layer.");

    /// <summary>Positions routed to the same top-k set, per layer.</summary>
    public static readonly MetricDefinition ShadowRoutingAgreementsTotal = new("moe_shadow_routing_agreements_total", MetricKind.Counter,
        "{position}", "Positions at which the candidate's top-k expert set of the layer equals the primary's.", [Layer], maxSeries: ShadowLayerSeriesBound);

    /// <summary>Scoring time per request of each model.</summary>
    public static readonly MetricDefinition ShadowLatencySeconds = Histogram("moe_shadow_latency_seconds",
        "Time one model took to score one sampled request teacher-forced (one forward pass over prompt and completion), per request, on the shadow's background thread; the candidate's sum over the primary's is the gate's latency ratio.",
        HistogramBuckets.RequestSeconds, ShadowScorer);

    /// <summary>The rank's greedy agreement since it started.</summary>
    public static readonly MetricDefinition ShadowGreedyAgreementRatio = Gauge("moe_shadow_greedy_agreement_ratio", "1",
        "moe_shadow_greedy_agreements_total over moe_shadow_tokens_total on this rank since it started (0 before the first scored request).");

    /// <summary>The rank's mean log-prob divergence per token since it started.</summary>
    public static readonly MetricDefinition ShadowLogprobDivergence = Gauge("moe_shadow_logprob_divergence", "nat",
        "Mean over scored completion tokens of the absolute difference log p_primary(token) - log p_candidate(token) on this rank since it started, in nats per token (ShadowGate's MaxMeanLogProbDivergence bounds it).");

    /// <summary>The rank's routing agreement per layer since it started.</summary>
    public static readonly MetricDefinition ShadowRoutingAgreementRatio = new("moe_shadow_routing_agreement_ratio", MetricKind.Gauge,
        "1", "Share of compared positions at which the candidate's top-k expert set of the layer equals the primary's, on this rank since it started.",
        [Layer], maxSeries: ShadowLayerSeriesBound);

    /// <summary>Control decisions recorded, by controller and action: the series Grafana's control-event annotations query.</summary>
    public static readonly MetricDefinition ControlDecisionsTotal = Counter("moe_control_decisions_total", "1",
        "Decisions recorded in the model's decision log, by controller and action (applied, proposed, refused; canary_start, canary_judge, canary_promote, canary_rollback for the steps of a canary trial). Counted by the rank hosting the model's decision log grain, so the series moves to another rank with it; sum over ranks.",
        Controller, ControlAction);

    /// <summary>Every metric, in documentation order.</summary>
    public static IReadOnlyList<MetricDefinition> All { get; } =
    [
        RequestsTotal, ErrorsTotal, RetriesTotal, ExpertCallHedgesTotal, ActiveRequests, ActiveStreams, QueueDepth, QueueWaitSeconds,
        AdmissionRejectsTotal, StreamResetsTotal, RequestsResumedTotal,
        RequestDurationSeconds, TimeToFirstTokenSeconds, TimePerOutputTokenSeconds, PrefillSeconds, DecodeStepSeconds,
        TokenComputeSeconds, TokenIoSeconds, StepPhaseSeconds, SamplerSeconds, TokenizerSeconds, ModelLoadSeconds, StartupPhaseSeconds,
        TokensTotal, TokensPerRequest, RequestTokensPerSecond, BatchSize, TokenCostUsdTotal, TenantTokensTotal, TenantTokenCostUsdTotal, TierCostUsdTotal,
        ExpertHitsTotal, ExpertImbalanceRatio, TierHitsTotal, TierMissesTotal, ColdMissRatio, TierFetchSeconds,
        TierFetchTimeTotal, DispatchBytesTotal, PrefetchBytesTotal, PrefetchOutcomeBytesTotal, PrefetchEffectivenessRatio,
        PrefetchFailuresTotal, PregatingPredictedTotal, PregatingActualTotal, PregatingHitTotal, RoutingMismatchesTotal, EvictionsTotal, TierMemoryBytes, TierCapacityBytes,
        TierOccupancyRatio, KvCacheBytes, KvCacheLookupsTotal, KvCacheHitRatio, LayerComputeTimeTotal,
        ExpertComputeTimeTotal, ProcessMemoryBytes, BuildInfo,
        AccessDenialsTotal, IntegrityFailuresTotal, ExpertQuarantinedTotal, TelemetryDroppedTotal, SummariesRejectedTotal, SecurityDeniedTotal,
        ClusterLatencySeconds, ClusterSloBurnRate, ClusterStaleRanks,
        RoutingDriftPsi, RoutingDriftChoiceShiftRatio, ModelInfo, ControlDecisionsTotal,
        ShadowRequestsTotal, ShadowTokensTotal, ShadowGreedyAgreementsTotal, ShadowLogprobDivergenceMicronatsTotal, ShadowRoutingPositionsTotal,
        ShadowRoutingAgreementsTotal, ShadowLatencySeconds, ShadowGreedyAgreementRatio, ShadowLogprobDivergence, ShadowRoutingAgreementRatio,
    ];

    private static readonly Dictionary<string, MetricDefinition> ByName = All.ToDictionary(m => m.Name, StringComparer.Ordinal);

    /// <summary>Looks a metric up by its exported name.</summary>
    public static bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MetricDefinition? metric) =>
        ByName.TryGetValue(name, out metric);

    private static MetricDefinition Counter(string name, string unit, string help, params LabelDefinition[] labels) =>
        new(name, MetricKind.Counter, unit, help, labels);

    private static MetricDefinition Gauge(string name, string unit, string help, params LabelDefinition[] labels) =>
        new(name, MetricKind.Gauge, unit, help, labels);

    private static MetricDefinition Histogram(string name, string help, IReadOnlyList<double> buckets, params LabelDefinition[] labels) =>
        new(name, MetricKind.Histogram, "s", help, labels, buckets);

    private static MetricDefinition Histogram(string name, string help, IReadOnlyList<double> buckets, bool sampled, params LabelDefinition[] labels) =>
        new(name, MetricKind.Histogram, "s", help, labels, buckets, sampledPerToken: sampled);
}
