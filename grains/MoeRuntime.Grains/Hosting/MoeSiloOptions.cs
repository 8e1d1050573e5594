using MoeRuntime.Control.Cost;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Wire;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Hosting;

/// <summary>One rank's configuration (section <c>Moe</c>): what it serves, where, and within which budgets.</summary>
public sealed class MoeSiloOptions
{
    public const string Section = "Moe";

    /// <summary>The name clients use for the model (the router grain's key).</summary>
    public string ModelName { get; set; } = "default";
    /// <summary>
    /// The operator's name for the checkpoint's revision (a Hugging Face commit, a release tag), exported as the
    /// <c>revision</c> label of <c>moe_model_info</c>; blank exports <c>unknown</c>.
    /// </summary>
    public string ModelRevision { get; set; } = "";
    /// <summary>Checkpoint directory; empty means the built-in model, written on first start.</summary>
    public string ModelPath { get; set; } = "";
    /// <summary>
    /// Refuse to start when the checkpoint has no SHA-256 manifest (<c>moe-manifest.json</c>, written by <c>moe model
    /// init</c> or <c>moe model manifest</c>). Off by default: a checkpoint without one is served with a warning, its
    /// experts checked only against the bytes read when they were registered.
    /// </summary>
    public bool RequireManifest { get; set; }
    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; set; } = "cpu";
    /// <summary>This silo's rank; unique in the cluster.</summary>
    public int Rank { get; set; }
    public long HotBudgetBytes { get; set; } = 128L << 20;
    public long WarmBudgetBytes { get; set; } = 256L << 20;
    /// <summary>Tier of an expert its TierSet does not mention.</summary>
    public Tier DefaultTier { get; set; } = Tier.Warm;
    public int MaxQueuedRequests { get; set; } = 256;
    public int MaxBatchSequences { get; set; } = 32;
    public int MaxBatchTokens { get; set; } = 2048;
    /// <summary>
    /// Unmeasured requests the rank's router serves itself when the silo starts, before its readiness check says ready
    /// (<c>/healthz</c> answers 503 "warming" meanwhile): in waves of <see cref="MaxBatchSequences"/>, 32 greedy tokens each.
    /// A fresh process runs its serving path as the JIT's first, unoptimised code and recompiles it in the background
    /// over its first minute of traffic; warming up moves that before the first real request. 0 (the default) is off.
    /// Their steps count in the step metrics like any others.
    /// </summary>
    public int WarmupRequests { get; set; }
    /// <summary>The most warm-up requests: far more than any warm-up needs, below a typo.</summary>
    public const int MaxWarmupRequests = 4096;
    /// <summary>
    /// How long a stopping silo lets queued and running requests finish. Those still running then fail with
    /// <c>ShuttingDown</c>, while the silo still answers, so their clients hear why instead of waiting on a silo that is gone.
    /// </summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// How long the batching loop waits before restarting after an unexpected failure (the running requests fail with
    /// <c>Internal</c>; queued ones wait); it doubles with each failure in a row up to <see cref="BatcherMaxRestartDelay"/>.
    /// <c>/healthz</c> answers 503 meanwhile.
    /// </summary>
    public TimeSpan BatcherRestartDelay { get; set; } = TimeSpan.FromMilliseconds(100);
    /// <summary>The longest wait between two restarts of the batching loop.</summary>
    public TimeSpan BatcherMaxRestartDelay { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Layers ahead whose experts the router hints for prefetch (0 turns hints off).</summary>
    public int PrefetchLookahead { get; set; } = 1;
    /// <summary>
    /// How long one expert call may take before it is given up and retried at once on another replica or the expert's
    /// default grain: far below a client's 30 s response timeout, so a rank that stopped answering costs a stream
    /// seconds, and above a loaded rank's slowest healthy call (a cold fetch plus a full prefill batch). Less than
    /// <see cref="ExpertCallRetryWindow"/>.
    /// </summary>
    public TimeSpan ExpertCallTimeout { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How long a failed expert call is retried (expert calls are pure, so a retry is safe). It must outlast the
    /// cluster's failure detection (Orleans' membership declares a dead silo after ~20 s by default), so that the
    /// expert re-activates on a live rank and running requests survive the loss of a rank.
    /// </summary>
    public TimeSpan ExpertCallRetryWindow { get; set; } = TimeSpan.FromSeconds(45);
    /// <summary>
    /// The shortest time an expert call to another rank may go unanswered before it is also sent to a copy of the expert on
    /// the calling rank, whichever answers first winning (a hedged call). The actual delay is four times the slowest recent
    /// call, at least this and at most <see cref="ExpertCallTimeout"/>, so hedges stay rare on a healthy cluster and a call
    /// to a rank that died mid-call is answered in a fraction of a second instead of after its deadline. Zero turns hedging off.
    /// </summary>
    public TimeSpan ExpertCallHedgeAfter { get; set; } = TimeSpan.FromMilliseconds(250);
    /// <summary>
    /// For how long, after a call to an expert's default grain failed with its rank, calls of that expert go to a copy on
    /// the calling rank first. Outlasts failure detection (<c>Moe:FailureDetection</c> declares a killed rank dead in
    /// seconds), after which the default grain has re-activated on a live rank.
    /// </summary>
    public TimeSpan ExpertDetourPeriod { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>
    /// The element type of activations this rank sends to experts on other ranks (and to its own expert grains): Float32
    /// (exact, the default), Float16 or BFloat16 (half the bytes, a small accuracy cost: docs/wire-format.md). Experts
    /// answer in the format they were asked in, so ranks with different settings work together.
    /// </summary>
    public WireFormat WireFormat { get; set; } = WireFormat.Float32;

    /// <summary>
    /// Whether a router sends the rows of a layer's experts that another rank owns in one call to that rank
    /// (<see cref="IRankExpertsGrain"/>) instead of one call per expert. Each expert's own fault comes back in the answer
    /// and moves to its other copies; a call that fails with its rank falls back to one call per expert; one not answered
    /// within the hedge delay is also computed by the calling rank. Experts with replicas keep their calls per replica.
    /// </summary>
    public bool ExpertCallsPerRank { get; set; }
    /// <summary>
    /// Micro-batch overlap (section <c>Moe:Overlap</c>, the library's record bound directly): a step of at least
    /// <c>MinSequences</c> sequences is split into <c>MicroBatches</c> groups whose expert dispatch overlaps the other
    /// groups' attention and gate. One micro-batch (the default) runs steps unsplit.
    /// </summary>
    public MoeRuntime.Model.Layers.OverlapOptions Overlap { get; set; } = new();
    /// <summary>
    /// Every how many token positions the router records a routing digest and asks the expert's rank to
    /// re-check it. Mismatch detection needs only a sample; re-checking costs a small gate computation
    /// on the expert's rank, so a sparse sample keeps it well inside the telemetry budget.
    /// </summary>
    public int RoutingCheckEveryNTokens { get; set; } = 128;
    /// <summary>
    /// When set, the router records every step's routing (experts and weights per token and layer, request
    /// pseudonyms, no token ids or text) to this JSON-lines file; <c>{rank}</c> in the path is replaced by the
    /// rank. Empty (the default) records nothing and costs nothing. See docs/routing-traces.md.
    /// </summary>
    public string RoutingTracePath { get; set; } = "";
    /// <summary>Share of successful requests whose completion is logged (by request id, so a request is all in or all out); failures are always logged.</summary>
    public double SuccessLogSampleRatio { get; set; } = 0.1;
    /// <summary>
    /// Cost-adaptive routing (section <c>Moe:CostAwareRouting</c>): off by default, because steering the gates
    /// away from cold experts changes answers; when on, bounded by the share of top-k choices it may change.
    /// </summary>
    public CostAwareRoutingOptions CostAwareRouting { get; set; } = new();
    /// <summary>
    /// What one request may cost this rank (section <c>Moe:Limits</c>, the library's record bound directly): max tokens,
    /// prompt characters, the KV-cache budget admission reserves from, logits capture, stop tokens, the tokenizer's regex timeout.
    /// </summary>
    public RequestLimits Limits { get; set; } = new();
    /// <summary>Expert replicas and load balancing over ranks.</summary>
    public BalancingOptions Balancing { get; set; } = new();
    /// <summary>The rank's libtorch thread pools (section <c>Moe:Compute</c>), applied once at start.</summary>
    public ComputeOptions Compute { get; set; } = new();
    /// <summary>How fast the cluster declares a lost rank dead (section <c>Moe:FailureDetection</c>).</summary>
    public FailureDetectionOptions FailureDetection { get; set; } = new();
    /// <summary>The tier controllers' loop (section <c>Moe:Control</c>).</summary>
    public ControlOptions Control { get; set; } = new();
    /// <summary>Shadow evaluation of a candidate checkpoint on a share of live requests (section <c>Moe:Shadow</c>); off by default.</summary>
    public ShadowOptions Shadow { get; set; } = new();
    /// <summary>Faults for load tests (section <c>Moe:FaultInjection</c>): all off by default.</summary>
    public FaultInjectionOptions FaultInjection { get; set; } = new();
}
