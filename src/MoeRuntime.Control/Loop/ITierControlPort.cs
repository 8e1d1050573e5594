using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>
/// What <see cref="TierControlLoop"/> needs of the cluster: which ranks are live and pinned, each rank's TierSet and
/// counters, writes of new TierSet versions checked against the version read, the telemetry sampling, the balancer
/// and the decision log. The tier controller grain implements it with grain calls; tests with a dictionary.
/// </summary>
public interface ITierControlPort
{
    /// <summary>The live ranks, each once, ascending.</summary>
    IReadOnlyList<int> LiveRanks();

    /// <summary>The operators' pins of the model: no controller moves a pinned expert.</summary>
    IReadOnlyDictionary<ExpertKey, Tier> Pins();

    /// <summary>The cluster's telemetry sampling in force (0 and 1 until the controllers first change it).</summary>
    SamplingSetting Sampling();

    /// <summary>The cluster's p95 latencies and the tokens served over <paramref name="interval"/>; none when they cannot be read.</summary>
    Task<ClusterReading> ReadClusterAsync(TimeSpan interval, CancellationToken cancellationToken);

    /// <summary>
    /// One rank's TierSet and cumulative counters, after bringing pinned experts that sit elsewhere to their pin
    /// (those writes are returned in <see cref="RankReading.PinRecords"/>).
    /// </summary>
    Task<RankReading> ReadRankAsync(int rank, CancellationToken cancellationToken);

    /// <summary>Writes a new TierSet version of <paramref name="rank"/> and returns its number.</summary>
    /// <exception cref="TierWriteRefusedException">The TierSet refused it: another version was written since <see cref="TierSetWrite.ExpectedVersion"/>, or budgets changed.</exception>
    Task<long> WriteAsync(int rank, TierSetWrite write, CancellationToken cancellationToken);

    /// <summary>Makes <paramref name="sampling"/> the cluster's telemetry sampling, a new version the ranks pick up.</summary>
    Task SetSamplingAsync(SamplingChange sampling, CancellationToken cancellationToken);

    /// <summary>Runs the load balancer once (only proposing in a dry run); null when it could not run.</summary>
    Task<ControlRecord?> BalanceAsync(bool dryRun, CancellationToken cancellationToken);

    /// <summary>Keeps an interval's decisions in the model's decision log, in order.</summary>
    Task RecordAsync(IReadOnlyList<ControlRecord> records, CancellationToken cancellationToken);
}

/// <summary>A decision as the decision log keeps it, with the TierSet or placement map version it wrote (null when none).</summary>
public sealed record ControlRecord(ControlDecision Decision, long? Version);

/// <summary>
/// The cluster as one interval sees it: its p95 latencies, the tokens served over the interval and the largest
/// per-layer routing-drift PSI (null when the view carried no drift).
/// </summary>
public sealed record ClusterReading(ObservedLatency Latency, long Tokens, double? MaxRoutingPsi = null)
{
    public static readonly ClusterReading None = new(ObservedLatency.None, 0);
}

/// <summary>
/// One rank as read at the start of its interval.
/// </summary>
/// <param name="Version">The TierSet version read; the loop's writes expect it.</param>
/// <param name="HotLimitBytes">The TierSet's hot budget: the limit the controllers keep under the ceiling.</param>
/// <param name="HotCeilingBytes">The most hot memory the rank may use (0 when the TierSet names none: the hot limit is the ceiling).</param>
/// <param name="PinRecords">Pins written before this read (experts brought back to their pin).</param>
public sealed record RankReading(
    long Version,
    long HotLimitBytes,
    long HotCeilingBytes,
    long WarmBudgetBytes,
    IReadOnlyList<ExpertHolding> Experts,
    RankCounters Counters,
    IReadOnlyList<ControlRecord> PinRecords)
{
    /// <summary>The hot budget controllers plan within.</summary>
    public long Ceiling => HotCeilingBytes > 0 ? HotCeilingBytes : HotLimitBytes;
}

/// <summary>
/// A new TierSet version: tiers by expert key (hot, warm, cold), a new hot limit under the ceiling (null keeps it),
/// who wrote it and why, and the version it was computed against.
/// </summary>
public sealed record TierSetWrite(IReadOnlyDictionary<string, string> Tiers, long? HotLimitBytes, string ChangedBy, string Reason, long ExpectedVersion)
{
    /// <summary>
    /// The ranks that called no expert in their latest interval the loop read (this interval's for the ranks read so far,
    /// the one before for the rest; a rank not read yet is not among them). A canary trial of the write could not be
    /// judged with the rank, or every other live rank, among them (<see cref="Canary.AutoTrial.Unjudgeable"/>).
    /// </summary>
    public IReadOnlySet<int> IdleRanks { get; init; } = new HashSet<int>();
}

/// <summary>The cluster's telemetry sampling: its version and the share of configured sampling in force.</summary>
public readonly record struct SamplingSetting(long Version, double Ratio);

/// <summary>A new telemetry sampling version, who set it and why.</summary>
public sealed record SamplingChange(long Version, double Ratio, string ChangedBy, string Reason, DateTimeOffset At);

/// <summary>A TierSet refused a write (stale version, budgets changed); the rank's next interval plans from fresh state.</summary>
public sealed class TierWriteRefusedException : Exception
{
    public TierWriteRefusedException() { }
    public TierWriteRefusedException(string message) : base(message) { }
    public TierWriteRefusedException(string message, Exception inner) : base(message, inner) { }
}
