using Microsoft.Extensions.Logging;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>
/// The tier controllers' loop for one model. Each interval it reads every live rank through the
/// <see cref="ITierControlPort"/>, runs the latency then the cost controller through the guardrails
/// (<see cref="GuardedPlan"/>), writes what they admit with the rank's hot limit, sets the cluster's telemetry sampling,
/// runs the balancer every so many intervals and records every decision. What it keeps — the controllers' demand, the
/// last counters read per rank, the last interval's figures — lives in memory: after a restart demand rebuilds within
/// a few half-lives, and the first interval per rank counts everything the rank counted since it started.
/// </summary>
public sealed class TierControlLoop
{
    readonly string _model;
    TierControlLoopOptions _options;
    readonly ITierControlPort _port;
    readonly TimeProvider _time;
    readonly ILogger _logger;
    readonly LatencyController _latency;
    readonly CostController _cost;
    readonly DateTimeOffset _startedAt;
    readonly Dictionary<int, RankCounters> _counters = [];
    readonly Dictionary<int, RankControlReport> _ranks = [];
    readonly HashSet<int> _idle = [];
    readonly DriftHalfLife _drift = new();

    /// <param name="model">Names the model in log lines.</param>
    public TierControlLoop(string model, TierControlLoopOptions options, ITierControlPort port, TimeProvider time, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _model = model ?? throw new ArgumentNullException(nameof(model));
        _options = options;
        _port = port ?? throw new ArgumentNullException(nameof(port));
        _time = time ?? throw new ArgumentNullException(nameof(time));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _cost = new CostController(options.Cost);
        // The latency controller promotes nothing the cost controller would demote again: the two share one band.
        _latency = new LatencyController(options.Latency, new CostFloorWhenEnabled(this));
        _startedAt = time.GetUtcNow();
    }

    /// <summary>The cost controller's promotion floor while it runs (<see cref="TierControlLoopOptions.CostEnabled"/>), else none.</summary>
    sealed class CostFloorWhenEnabled(TierControlLoop loop) : IPromotionFloor
    {
        public bool Admits(ExpertState expert, Tier to, double uses, ControlInput input) =>
            !loop._options.CostEnabled || loop._cost.Admits(expert, to, uses, input);
    }

    /// <summary>Only propose: decisions are recorded as proposed and nothing is written.</summary>
    public bool DryRun { get; set; }

    /// <summary>The options the next interval runs with.</summary>
    public TierControlLoopOptions Options => _options;

    /// <summary>
    /// Runs the next intervals with <paramref name="options"/> (a configuration reload): the controllers keep their demand,
    /// hot allowances and counters. The interval and the demand's half-life are the loop's own and cannot change.
    /// </summary>
    /// <exception cref="ArgumentException">The options are out of range, or change the interval or the demand's half-life.</exception>
    public void Reconfigure(TierControlLoopOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Interval != _options.Interval)
            throw new ArgumentException($"TierControlLoopOptions.Interval cannot change on a running loop ({_options.Interval} → {options.Interval})", nameof(options));
        // Checked before either controller takes its part, so a refused change leaves both as they were.
        if (options.Latency.DemandHalfLifeIntervals != _options.Latency.DemandHalfLifeIntervals || options.Cost.DemandHalfLifeIntervals != _options.Cost.DemandHalfLifeIntervals)
            throw new ArgumentException("the controllers' DemandHalfLifeIntervals cannot change on a running loop", nameof(options));
        _latency.Reconfigure(options.Latency);
        _cost.Reconfigure(options.Cost);
        _options = options;
    }

    public DateTimeOffset? LastTick { get; private set; }

    public long Ticks { get; private set; }

    /// <summary>What the last interval failed on (the whole interval, or a rank it skipped); null when it ran through.</summary>
    public string? LastError { get; private set; }

    /// <summary>What the last interval's memory and fetches cost over all ranks, per thousand tokens served; null when none were.</summary>
    public double? DollarsPerThousandTokens { get; private set; }

    /// <summary>Every rank after its last interval, by rank.</summary>
    public IReadOnlyList<RankControlReport> Ranks => [.. _ranks.Values.OrderBy(r => r.Rank)];

    /// <summary>Runs one interval; nothing it meets is thrown (logged and kept in <see cref="LastError"/> instead).</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            LastError = null;
            await RunIntervalAsync(cancellationToken);
        }
        catch (Exception e)
        {
            LastError = e.Message;
            TierControlLog.IntervalFailed(_logger, _model, Ticks, e);
        }
    }

    async Task RunIntervalAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = _time.GetUtcNow();
        // The interval prices memory held: the time since the last one, or for the first since the start (at most one interval).
        TimeSpan since = now - (LastTick ?? _startedAt);
        TimeSpan interval = since <= TimeSpan.Zero ? _options.Interval : LastTick is null && since > _options.Interval ? _options.Interval : since;
        LastTick = now;
        Ticks++;
        IReadOnlyList<int> live = _port.LiveRanks();
        ClusterReading cluster = await _port.ReadClusterAsync(interval, cancellationToken);
        var step = new Step(now, interval, cluster.Latency, live.Count == 0 ? 0 : cluster.Tokens / live.Count, _port.Pins(), _port.Sampling());
        var records = new List<ControlRecord>();
        FollowDrift(now, cluster.MaxRoutingPsi, records);
        double dollars = 0;
        double? sampleRatio = null;
        foreach (int rank in live)
        {
            try
            {
                (double rankDollars, double? rankSampleRatio) = await ControlRankAsync(rank, step, records, cancellationToken);
                dollars += rankDollars;
                // Sampling is cluster-wide: the lowest any rank's plan asks for.
                if (rankSampleRatio is { } r) sampleRatio = Math.Min(r, sampleRatio ?? r);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LastError = $"rank {rank}: {e.Message}";
                TierControlLog.RankSkipped(_logger, _model, rank, e);
            }
        }
        DollarsPerThousandTokens = cluster.Tokens > 0 ? dollars / cluster.Tokens * 1000 : null;
        if (sampleRatio is { } ratio) await ChangeSamplingAsync(step, ratio, records, cancellationToken);
        if (_options.BalanceEveryIntervals > 0 && Ticks % _options.BalanceEveryIntervals == 0 && await _port.BalanceAsync(DryRun, cancellationToken) is { } balanced)
            records.Add(balanced);
        if (records.Count > 0) await _port.RecordAsync(records, cancellationToken);
    }

    /// <summary>Whether the controllers' demand half-life is shortened for routing drift now (<see cref="DriftHalfLifeOptions"/>).</summary>
    public bool DemandHalfLifeShortened => _drift.Shortened;

    /// <summary>
    /// Switches the controllers' demand half-life on the cluster's largest layer PSI, before any rank plans (so this
    /// interval's uses already decay at the new half-life), and records each switch once. A dry run switches too: it
    /// changes only what the controllers propose.
    /// </summary>
    void FollowDrift(DateTimeOffset at, double? maxPsi, List<ControlRecord> records)
    {
        DriftHalfLifeOptions options = _options.Latency.DriftHalfLife;
        double latencyFrom = _latency.DemandHalfLifeIntervals, costFrom = _cost.DemandHalfLifeIntervals;
        DriftHalfLifeSwitch? change = _drift.Observe(maxPsi, options);
        double latencyTo = _drift.Current(_options.Latency.DemandHalfLifeIntervals, options);
        double costTo = _drift.Current(_options.Cost.DemandHalfLifeIntervals, options);
        // A reload can change the factor while shortened: the half-lives follow it without a switch to record.
        if (latencyTo != latencyFrom) _latency.UseDemandHalfLife(latencyTo);
        if (costTo != costFrom) _cost.UseDemandHalfLife(costTo);
        if (change is null) return;
        var inputs = new Dictionary<string, double>
        {
            [change.Shortened ? "psi_threshold" : "restore_below_psi"] = change.Level,
            ["latency_half_life_intervals"] = latencyFrom,
            ["cost_half_life_intervals"] = costFrom,
        };
        if (change.MaxPsi is { } psi) inputs["max_layer_psi"] = psi;
        string reason = change.Shortened
            ? $"routing drifts: largest layer PSI {change.MaxPsi:0.###} over {change.Level:0.###}; demand forgets the old mix faster"
            : change.Enabled
                ? $"routing settled: largest layer PSI {change.MaxPsi:0.###} under {change.Level:0.###}; configured half-life back"
                : "shortening on drift switched off; configured half-life back";
        TierControlLog.DemandHalfLifeSwitched(_logger, _model, latencyFrom, latencyTo, reason);
        records.Add(new ControlRecord(new ControlDecision(at, _latency.Name, null, inputs,
            $"demand half-life {latencyFrom:0.###} → {latencyTo:0.###} intervals (latency), {costFrom:0.###} → {costTo:0.###} (cost)",
            reason, DecisionOutcome.Applied), null));
    }

    /// <summary>What every rank of one interval shares: its time and length, the cluster's latency, each rank's share of the tokens, the pins and the sampling.</summary>
    sealed record Step(DateTimeOffset At, TimeSpan Interval, ObservedLatency Latency, long TokensPerRank, IReadOnlyDictionary<ExpertKey, Tier> Pins, SamplingSetting Sampling);

    /// <summary>One rank's interval; returns what the interval cost there in dollars and the telemetry sampling the latency controller asks for.</summary>
    async Task<(double Dollars, double? SampleRatio)> ControlRankAsync(int rank, Step step, List<ControlRecord> records, CancellationToken cancellationToken)
    {
        RankReading read = await _port.ReadRankAsync(rank, cancellationToken);
        records.AddRange(read.PinRecords);
        RankInterval delta = RankInterval.Between(_counters.GetValueOrDefault(rank), read.Counters);
        _counters[rank] = read.Counters;
        if (delta.Uses.Values.Any(u => u > 0)) _idle.Remove(rank);
        else _idle.Add(rank);
        // Controllers plan within the ceiling; the TierSet's hot budget is the limit they keep under it.
        long ceiling = read.Ceiling;
        RankState before = RankStates.Build(rank, new TierBudgets(ceiling, read.WarmBudgetBytes), read.Experts, delta, step.Pins,
            _options.TransientHeadroomExperts) with { Transient = RankStates.Transient(read, delta) };
        var input = new ControlInput(step.At, step.Interval, before, delta.WarmFetch, delta.ColdFetch, step.Latency, step.TokensPerRank, step.Sampling.Ratio);

        long release = (long)Math.Ceiling(_options.Latency.ShrinkStep * ceiling);
        var limit = new HotLimit(read.HotLimitBytes,
            plan => RankStates.HotLimit(RankStates.After(before, plan.Moves), _latency.HotAllowance(rank), ceiling, read.HotLimitBytes, release));
        RankWrite latencyWrite = await DecideAsync(_latency, input, read.Version, records, limit, cancellationToken);
        RankState after = RankStates.After(before, latencyWrite.Moved);
        long version = latencyWrite.Version;
        CostReport report = _cost.Report(input with { Rank = after });
        if (_options.CostEnabled && !latencyWrite.Stale)
        {
            RankWrite costWrite = await DecideAsync(_cost, input with { Rank = after }, version, records, null, cancellationToken);
            after = RankStates.After(after, costWrite.Moved);
            version = costWrite.Version;
        }
        _ranks[rank] = new RankControlReport(rank, version, _latency.HotAllowance(rank), after.BytesUsed(Tier.Hot), ceiling,
            latencyWrite.LimitWritten ?? limit.Current, after.BytesUsed(Tier.Warm), read.WarmBudgetBytes, delta.HitRatio,
            report.TotalDollars, report.DollarsPerThousandTokens);
        return (report.TotalDollars, latencyWrite.SampleRatio);
    }

    /// <summary>
    /// Plans, guards and writes one controller's moves; every decision goes to <paramref name="records"/>. A write the
    /// TierSet refuses (a version written meanwhile, budgets changed by a new registration) turns the admitted
    /// decisions into refused ones and ends the rank's interval: the next one plans from fresh state.
    /// </summary>
    async Task<RankWrite> DecideAsync(
        ITierController controller, ControlInput input, long version, List<ControlRecord> records, HotLimit? limit, CancellationToken cancellationToken)
    {
        TierPlan admitted = GuardedPlan.Make(controller, input, _options.Guardrails with { DryRun = DryRun }).Admitted;
        long? nextLimit = limit?.Next(admitted) is { } next && next != limit.Current ? next : null;
        long? writtenLimit = DryRun ? null : nextLimit;
        if (admitted.Moves.Count == 0 && writtenLimit is null)
        {
            records.AddRange(admitted.Decisions.Select(d => new ControlRecord(d, null)));
            if (nextLimit is { } proposed) records.Add(LimitRecord(controller, input, limit!.Current, proposed, null));
            return new RankWrite([], version, false, admitted.RecommendedSampleRatio, null);
        }
        try
        {
            long written = await _port.WriteAsync(input.Rank.Rank, new TierSetWrite(
                TierWrites.Tiers(admitted.Moves),
                writtenLimit,
                $"controller:{controller.Name}",
                TierWrites.Reason(admitted) + (writtenLimit is { } w ? $"; hot limit {limit!.Current} → {w} bytes" : ""),
                version) { IdleRanks = _idle.ToHashSet() }, cancellationToken);
            records.AddRange(admitted.Decisions.Select(d => new ControlRecord(d, written)));
            if (writtenLimit is { } applied) records.Add(LimitRecord(controller, input, limit!.Current, applied, written));
            return new RankWrite(admitted.Moves, written, false, admitted.RecommendedSampleRatio, writtenLimit);
        }
        catch (TierWriteRefusedException e)
        {
            TierControlLog.NotWritten(_logger, controller.Name, _model, input.Rank.Rank, e.Message);
            records.AddRange(admitted.Decisions.Select(d => new ControlRecord(d.Outcome == DecisionOutcome.Applied
                ? d with { Outcome = DecisionOutcome.Refused, Reason = $"{d.Reason}; not written: {e.Message}" }
                : d, null)));
            return new RankWrite([], version, true, admitted.RecommendedSampleRatio, null);
        }
    }

    /// <summary>The rank's hot limit (the TierSet's hot budget) as read, and how to compute the next from an admitted plan.</summary>
    sealed record HotLimit(long Current, Func<TierPlan, long> Next);

    /// <summary>
    /// One controller's write on a rank: the moves made, the TierSet version after them, whether the TierSet refused the
    /// write as stale, the telemetry sampling the plan asks for, and the hot limit written (null if unchanged or only proposed).
    /// </summary>
    readonly record struct RankWrite(IReadOnlyList<TierMove> Moved, long Version, bool Stale, double? SampleRatio, long? LimitWritten);

    static ControlRecord LimitRecord(ITierController controller, ControlInput input, long from, long to, long? version) => new(new ControlDecision(
        input.At,
        controller.Name,
        input.Rank.Rank,
        new Dictionary<string, double>
        {
            ["hot_limit_bytes"] = from,
            ["hot_assigned_bytes"] = input.Rank.BytesUsed(Tier.Hot),
            ["hot_plan_budget_bytes"] = input.Rank.Budgets.HotBytes,
        },
        $"hot limit {from / 1048576.0:F1} → {to / 1048576.0:F1} MiB",
        to < from
            ? "the hot allowance shrank: hot copies over the new limit are released, not just unassigned"
            : "the hot allowance grew: room for it and for calls to experts not assigned hot",
        version is null ? DecisionOutcome.Proposed : DecisionOutcome.Applied), version);

    /// <summary>
    /// Sets the cluster's telemetry sampling to <paramref name="ratio"/> (a new version the ranks pick up), or in a dry run
    /// only proposes it. Lower sampling sheds telemetry work while latency is over target; it comes back once targets hold.
    /// </summary>
    async Task ChangeSamplingAsync(Step step, double ratio, List<ControlRecord> records, CancellationToken cancellationToken)
    {
        double current = step.Sampling.Ratio;
        if (ratio == current) return;
        string reason = ratio < current ? "latency over target: shedding telemetry work" : "latency holds with margin: sampling restored";
        long? version = DryRun ? null : step.Sampling.Version + 1;
        var inputs = new Dictionary<string, double> { ["sample_ratio"] = current };
        if (step.Latency.P95InterTokenSeconds is { } itl) inputs["p95_itl_s"] = itl;
        if (step.Latency.P95TimeToFirstTokenSeconds is { } ttft) inputs["p95_ttft_s"] = ttft;
        records.Add(new ControlRecord(new ControlDecision(step.At, _latency.Name, null, inputs,
            $"telemetry sampling {current:0.###} → {ratio:0.###} of configured (traces, routing re-checks)", reason,
            DryRun ? DecisionOutcome.Proposed : DecisionOutcome.Applied), version));
        if (version is { } v) await _port.SetSamplingAsync(new SamplingChange(v, ratio, $"controller:{_latency.Name}", reason, step.At), cancellationToken);
    }
}
