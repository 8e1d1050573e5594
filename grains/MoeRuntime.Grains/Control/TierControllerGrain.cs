using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Canary;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Grains.Security;

namespace MoeRuntime.Grains.Control;

/// <summary>
/// The tier controllers of one model on a grain timer. The loop — what to read, decide, write and record each
/// interval — is <see cref="TierControlLoop"/>; this grain is its <see cref="ITierControlPort"/>: it keeps the timer,
/// makes the grain calls, and keeps what operators set (pins, the run-time dry-run switch) and the telemetry sampling
/// in <see cref="ControlStorage"/>, so they survive the grain moving to another silo.
/// </summary>
public sealed class TierControllerGrain(
    [PersistentState("tier-controller", ControlStorage.Name)] IPersistentState<TierControllerState> saved,
    ModelHost host, RankDirectory ranks, IOptions<MoeSiloOptions> options, IOptions<TelemetryOptions> telemetry,
    TimeProvider time, ILogger<TierControllerGrain> logger, IOptionsMonitor<MoeSiloOptions> live)
    : Grain, ITierControllerGrain, ITierControlPort
{
    readonly ControlOptions _options = options.Value.Control;
    MoeSiloOptions? _followed;
    readonly Dictionary<ExpertKey, ExpertPin> _pins = [];
    TierControlLoop _loop = null!;
    IGrainTimer? _timer;
    string[] _staleRanks = [];
    int[] _held = [];
    TelemetrySamplingView _sampling = new();

    string Model => this.GetPrimaryKeyString();

    IControlDecisionLogGrain Log => GrainFactory.GetGrain<IControlDecisionLogGrain>(Model);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        host.EnsureServes(Model);
        _loop = new TierControlLoop(Model, TierControlViews.LoopOptions(_options, telemetry.Value.Costs), this, time, logger) { DryRun = saved.State.DryRun ?? _options.DryRun };
        foreach (ExpertPin pin in saved.State.Pins) _pins[ExpertKey.Parse(pin.Expert)] = pin;
        _sampling = saved.State.Sampling;
        if (saved.RecordExists)
            logger.LogInformation("Tier controllers of {Model} resumed: {Pins} pins, dry run {DryRun}, telemetry sampling {Ratio} (v{Version})",
                Model, _pins.Count, _loop.DryRun ? "on" : "off", _sampling.Ratio, _sampling.Version);
        return Task.CompletedTask;
    }

    /// <summary>Keeps the pins and the sampling (and the dry-run switch, set by its caller) in <see cref="ControlStorage"/>.</summary>
    Task SaveAsync()
    {
        saved.State.Pins = [.. _pins.Values.OrderBy(p => p.Expert, StringComparer.Ordinal)];
        saved.State.Sampling = _sampling;
        return saved.WriteStateAsync();
    }

    public Task StartAsync()
    {
        if (_options.Enabled && _timer is null)
        {
            _timer = this.RegisterGrainTimer(_ => RunIntervalAsync(),
                new GrainTimerCreationOptions { DueTime = _options.Interval, Period = _options.Interval, KeepAlive = true });
            logger.LogInformation("Tier controllers of {Model} started: every {Interval}{DryRun}", Model, _options.Interval, _loop.DryRun ? ", dry run" : "");
        }
        return Task.CompletedTask;
    }

    public async Task<ControllerStatus> TickAsync()
    {
        await RunIntervalAsync();
        return Status();
    }

    /// <summary>
    /// One interval of the loop: the reloaded configuration taken in first, then the ranks that carry a change under
    /// canary trial (<see cref="ICanaryGrain"/>) left alone.
    /// </summary>
    async Task RunIntervalAsync()
    {
        FollowConfiguration();
        try
        {
            _held = _options.Canary.Enabled ? await GrainFactory.GetGrain<ICanaryGrain>(Model).GetHeldRanksAsync() : [];
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            // Without knowing which ranks are under trial the loop could undo a canary: it holds every rank this interval.
            logger.LogWarning(e, "Tier controllers of {Model}: canary trial unknown; holding every rank this interval", Model);
            return;
        }
        await _loop.RunAsync();
    }

    /// <summary>
    /// Takes the live part of a reloaded <c>Moe:Control</c> (targets, guardrails, prices: <see cref="LiveOptions"/>) into the
    /// loop before an interval. The interval, the latency window, the switch and the demand's half-life stay as started.
    /// </summary>
    void FollowConfiguration()
    {
        MoeSiloOptions current = live.CurrentValue;
        if (ReferenceEquals(current, _followed)) return;
        _followed = current;
        TierControlLoopOptions started = _loop.Options, next = TierControlViews.LoopOptions(current.Control, telemetry.Value.Costs);
        next = next with
        {
            Interval = started.Interval,
            Latency = next.Latency with { DemandHalfLifeIntervals = started.Latency.DemandHalfLifeIntervals },
            Cost = next.Cost with { DemandHalfLifeIntervals = started.Cost.DemandHalfLifeIntervals },
        };
        if (next == started) return;
        try
        {
            _loop.Reconfigure(next);
            logger.LogInformation("Tier controllers of {Model} run with the reloaded configuration from their next interval", Model);
        }
        catch (ArgumentException e)
        {
            logger.LogWarning("Tier controllers of {Model} keep their options; the reloaded ones are refused: {Error}", Model, e.Message);
        }
    }

    public Task<ControllerStatus> GetStatusAsync() => Task.FromResult(Status());

    public Task<TelemetrySamplingView> GetSamplingAsync() => Task.FromResult(_sampling);

    public async Task<ControllerStatus> SetDryRunAsync(bool dryRun)
    {
        if (dryRun == _loop.DryRun) return Status();
        string by = MoeCaller.Author("operator");
        _loop.DryRun = dryRun;
        saved.State.DryRun = dryRun;
        await SaveAsync();
        await Log.RecordAsync([Operator(dryRun ? "dry run on" : "dry run off", $"{by}: {(dryRun ? "decisions are only proposed" : "admitted decisions are written")}", null, null)]);
        logger.LogInformation("Tier controllers of {Model}: dry run {State}", Model, dryRun ? "on" : "off");
        return Status();
    }

    public async Task<ControllerStatus> PinAsync(string expertKey, string? tier, string by, string reason)
    {
        by = MoeCaller.Author(by);
        if (string.IsNullOrWhiteSpace(by) || string.IsNullOrWhiteSpace(reason))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a pin needs who set it and why");
        ExpertKey key = GrainKeys.ExpertOfModel(expertKey, Model, host.Config);
        if (tier is null)
        {
            bool removed = _pins.Remove(key);
            if (removed) await SaveAsync();
            await Log.RecordAsync([Operator($"{key} unpinned", removed ? $"{by}: {reason}" : $"{by}: {reason} (it was not pinned)", null, null)]);
            return Status();
        }
        var pin = new ExpertPin { Expert = key.ToString(), Tier = TierNames.Of(ControlRequests.Tier(tier)), By = by, Reason = reason, At = time.GetUtcNow() };
        // Applied before it is kept: a pin the budgets refuse is not a pin.
        var written = new List<ControlDecisionRecord>();
        foreach (int rank in ranks.LiveRanks())
            if (await PinWrites.ApplyAsync(TierSet(rank), pin) is { Holds: true } applied)
                written.Add(Operator($"{pin.Expert} pinned to {pin.Tier}", $"{by}: {reason}", rank, applied.Version));
        _pins[key] = pin;
        await SaveAsync();
        if (written.Count == 0) written.Add(Operator($"{pin.Expert} pinned to {pin.Tier}", $"{by}: {reason} (no rank holds it yet; applied when one does)", null, null));
        await Log.RecordAsync([.. written]);
        return Status();
    }

    ControlDecisionRecord Operator(string change, string reason, int? rank, long? version) =>
        DecisionRecords.From(DecisionRecords.Operator(time.GetUtcNow(), change, reason, rank, version));

    ControllerStatus Status() => new()
    {
        Model = Model,
        Enabled = _options.Enabled,
        Running = _timer is not null,
        DryRun = _loop.DryRun,
        Interval = _options.Interval,
        LastTickAt = _loop.LastTick,
        Ticks = _loop.Ticks,
        Ranks = [.. _loop.Ranks.Select(TierControlViews.Status)],
        Pins = [.. _pins.Values.OrderBy(p => p.Expert, StringComparer.Ordinal)],
        DollarsPerThousandTokens = _loop.DollarsPerThousandTokens,
        LastError = _loop.LastError,
        StaleTelemetryRanks = _staleRanks,
        Sampling = _sampling,
    };

    ITierSetGrain TierSet(int rank) => GrainFactory.GetGrain<ITierSetGrain>(GrainKeys.Rank(Model, rank));

    IReadOnlyList<int> ITierControlPort.LiveRanks() => _held.Length == 0 ? ranks.LiveRanks() : [.. ranks.LiveRanks().Except(_held)];
    IReadOnlyDictionary<ExpertKey, Tier> ITierControlPort.Pins() => _pins.ToDictionary(p => p.Key, p => ControlRequests.Tier(p.Value.Tier));
    SamplingSetting ITierControlPort.Sampling() => new(_sampling.Version, _sampling.Ratio);

    async Task<ClusterReading> ITierControlPort.ReadClusterAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        try
        {
            TelemetryView view = await ViewAsync(TelemetryWindows.Name(_options.LatencyWindow));
            // Stale ranks leave the view without their latency and tokens; the status says which, the log once per change.
            string[] stale = [.. view.Ranks.StaleRanks];
            if (stale.Length > 0 && !stale.SequenceEqual(_staleRanks))
                logger.LogWarning("Tier controllers of {Model}: telemetry of rank(s) {Stale} is stale; deciding without it", Model, string.Join(", ", stale));
            _staleRanks = stale;
            ClusterReading read = TelemetryReadings.Cluster(view, interval);
            // A short window can hold no latency sample (idle, or sparse sampling of short streams): the minute's then.
            return read.Latency == ObservedLatency.None && _options.LatencyWindow == TelemetryWindow.TwentySeconds
                ? read with { Latency = TelemetryReadings.Latency(await ViewAsync(TelemetryWindows.Name(TelemetryWindow.OneMinute))) }
                : read;
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or JsonException or ArgumentException)
        {
            logger.LogWarning(e, "Tier controllers of {Model}: no cluster view this interval, holding the hot allowance", Model);
            return ClusterReading.None;
        }
    }

    async Task<TelemetryView> ViewAsync(string window) =>
        JsonSerializer.Deserialize<TelemetryView>(await GrainFactory.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(window), TelemetryJson.Options)!;

    Task<RankReading> ITierControlPort.ReadRankAsync(int rank, CancellationToken cancellationToken) =>
        PinWrites.ReadKeepingPinsAsync(TierSet(rank), rank, _pins, time);

    /// <summary>
    /// Writes a controller's plan, or — when it moves more than <c>Moe:Control:Canary:AutoTrialAbove</c> experts
    /// (<see cref="AutoTrial"/>) — submits it to the canary grain as a trial on this rank, unless nothing could judge it (the
    /// rank or every other rank called no expert in its last interval: written directly). While a trial is under way such
    /// a plan is refused (not written; planned again next interval), and a rank that just became a canary is not written
    /// by the next controller of the same interval.
    /// </summary>
    async Task<long> ITierControlPort.WriteAsync(int rank, TierSetWrite write, CancellationToken cancellationToken)
    {
        if (_held.Contains(rank)) throw new TierWriteRefusedException($"rank {rank} carries a canary trial; the controllers leave it alone until the trial ends");
        CanaryOptions canary = _options.Canary;
        int[] live = ranks.LiveRanks();
        if (AutoTrial.Route(write.Tiers.Count, live.Length, canary) == PlanRoute.Write)
            return await TierControlViews.WriteAsync(TierSet(rank), write);
        if (AutoTrial.Unjudgeable(rank, live, write.IdleRanks) is { } unjudgeable)
        {
            logger.LogInformation("Tier controllers of {Model}: {Writer}'s plan of {Moves} moves on rank {Rank} written without a trial: {Why}", Model, write.ChangedBy, write.Tiers.Count, rank, unjudgeable);
            return await TierControlViews.WriteAsync(TierSet(rank), write with { Reason = $"{write.Reason}; no canary trial (nothing could judge it: {unjudgeable})" });
        }
        CanaryPlanOutcome outcome = await GrainFactory.GetGrain<ICanaryGrain>(Model).SubmitPlanAsync(new CanaryPlan
        {
            Rank = rank,
            Tiers = write.Tiers.ToDictionary(),
            HotLimitBytes = write.HotLimitBytes,
            ExpectedVersion = write.ExpectedVersion,
            Controller = write.ChangedBy,
            Reason = write.Reason,
        });
        if (outcome.TrialId is not { } trial)
            throw new TierWriteRefusedException($"{write.Tiers.Count} moves is over Moe:Control:Canary:AutoTrialAbove ({canary.AutoTrialAbove}) and no canary trial could start: {outcome.Refusal}");
        _held = [.. _held, rank];
        logger.LogInformation("Tier controllers of {Model}: {Writer}'s plan of {Moves} moves on rank {Rank} is canary trial {Trial}", Model, write.ChangedBy, write.Tiers.Count, rank, trial);
        return outcome.Version;
    }

    Task ITierControlPort.SetSamplingAsync(SamplingChange sampling, CancellationToken cancellationToken)
    {
        logger.LogInformation("Tier controllers of {Model}: telemetry sampling {From} → {To} ({Reason})", Model, _sampling.Ratio, sampling.Ratio, sampling.Reason);
        _sampling = new TelemetrySamplingView { Version = sampling.Version, Ratio = sampling.Ratio, ChangedBy = sampling.ChangedBy, Reason = sampling.Reason, At = sampling.At };
        return SaveAsync();
    }

    async Task<ControlRecord?> ITierControlPort.BalanceAsync(bool dryRun, CancellationToken cancellationToken)
    {
        try
        {
            return DecisionRecords.From(await GrainFactory.GetGrain<ILoadBalancerGrain>(Model).BalanceAsync(dryRun));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
        {
            logger.LogWarning(e, "Tier controllers of {Model}: balancing failed this interval", Model);
            return null;
        }
    }

    Task ITierControlPort.RecordAsync(IReadOnlyList<ControlRecord> records, CancellationToken cancellationToken) =>
        Log.RecordAsync([.. records.Select(DecisionRecords.From)]);
}
