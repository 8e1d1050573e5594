using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Grains.Control;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using Orleans.Runtime;
using MoeRuntime.Grains.Security;

namespace MoeRuntime.Grains.Prefetch;

/// <summary>
/// The prefetch controller of one model: the cluster's versioned prefetch settings, and a timer that every
/// <see cref="PrefetchControlOptions.Interval"/> reads each live rank's per-layer prefetch counters, hands them to
/// <see cref="PrefetchControlLoop"/> (the interval's stats, the plan and its decision), applies the plan unless in dry
/// run, and records the decision in the model's <see cref="IControlDecisionLogGrain"/>. Routers activate
/// it with their first poll; the timer keeps it alive. Every settings version is kept in <see cref="ControlStorage"/>,
/// so a new activation (the grain moved to another silo) carries on from the last one; interval counters start afresh.
/// </summary>
public sealed class PrefetchControllerGrain(
    [PersistentState("prefetch-settings", ControlStorage.Name)] IPersistentState<PrefetchSettingsView> saved,
    [PersistentState("prefetch-overrides", ControlStorage.Name)] IPersistentState<PrefetchRankOverrides> overrides,
    ModelHost host, RankDirectory ranks, IOptions<PrefetchControlOptions> options, IOptions<PrefetchControllerOptions> policy, IOptions<MoeSiloOptions> silo, TimeProvider time,
    ILogger<PrefetchControllerGrain> logger)
    : Grain, IPrefetchControllerGrain
{
    public const string Controller = PrefetchControlLoop.Controller;
    public const string Operator = "operator";

    readonly PrefetchControlOptions _options = options.Value;
    readonly PrefetchControlLoop _loop = new(policy.Value);
    PrefetchSettings _settings = null!;
    PrefetchSettingsView _view = null!;
    PrefetchSettingsView? _proposed;
    ControlDecisionRecord? _lastDecision;
    int[] _unreachable = [];
    long _ticks, _lastTick;

    string Model => this.GetPrimaryKeyString();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        host.EnsureServes(Model);
        int layers = host.Config.LayerCount;
        if (saved.RecordExists && saved.State.Thresholds.Length == layers)
        {
            // Settings the controller or an operator made survive the grain moving; a model with other layers starts afresh.
            _settings = new PrefetchSettings(Math.Clamp(saved.State.Lookahead, 0, layers), [.. saved.State.Thresholds]);
            _view = saved.State;
        }
        else
        {
            _settings = new PrefetchSettings(Math.Clamp(silo.Value.PrefetchLookahead, 0, layers), new double[layers]);
            _view = View(1, "silo", "initial configuration (Moe:PrefetchLookahead, every predicted expert)");
        }
        // The first interval starts now: counters from before the activation are the baseline, not this interval's.
        try
        {
            var (read, unreachable) = await ReadRanksAsync();
            _loop.Baseline(read, layers, unreachable);
        }
        catch (Exception e)
        {
            logger.LogWarning("Prefetch controller of {Model} could not read the ranks' baseline: {Error}", Model, e.Message);
        }
        _lastTick = time.GetTimestamp();
        // KeepAlive: the settings live in this activation, so it must not be collected while idle.
        this.RegisterGrainTimer(OnTimerAsync, new GrainTimerCreationOptions(_options.Interval, _options.Interval) { KeepAlive = true });
        logger.LogInformation("Prefetch controller of {Model}: {Mode}, every {Interval}s, lookahead {Lookahead}",
            Model, !_options.Enabled ? "disabled" : _options.DryRun ? "dry run" : "enabled", _options.Interval.TotalSeconds, _settings.Lookahead);
    }

    public Task<PrefetchSettingsView> GetSettingsAsync() => Task.FromResult(_view);

    public Task<PrefetchSettingsView> GetRankSettingsAsync(int rank) =>
        Task.FromResult(overrides.State.Ranks.TryGetValue(rank, out PrefetchSettingsView? own) ? own : _view);

    public async Task<PrefetchSettingsView> SetRankOverrideAsync(int[] ranks, PrefetchSettingsChange? change, string changedBy, string reason)
    {
        ArgumentNullException.ThrowIfNull(ranks);
        changedBy = MoeCaller.Author(changedBy);
        if (string.IsNullOrWhiteSpace(changedBy) || string.IsNullOrWhiteSpace(reason))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a prefetch override needs who set it and why");
        if (ranks.Length == 0) throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a prefetch override needs the ranks it is for");
        if (change is null)
        {
            foreach (int rank in ranks) overrides.State.Ranks.Remove(rank);
            await overrides.WriteStateAsync();
            logger.LogInformation("Prefetch of {Model}: rank(s) {Ranks} use the cluster's settings again ({Reason})", Model, string.Join(",", ranks), reason);
            return _view;
        }
        PrefetchSettings next;
        try
        {
            next = PrefetchSettingsChanges.Apply(_settings, change.Lookahead, change.Thresholds, host.Config.LayerCount);
        }
        catch (ArgumentException e)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        // The override carries the cluster's version it was made from; routers tell it apart by its content.
        PrefetchSettingsView view = View(_view.Version, changedBy, reason, next);
        foreach (int rank in ranks) overrides.State.Ranks[rank] = view;
        await overrides.WriteStateAsync();
        logger.LogInformation("Prefetch of {Model}: rank(s) {Ranks} override the cluster's settings: {Change} ({Reason})",
            Model, string.Join(",", ranks), PrefetchSettingsChanges.Describe(_settings, next), reason);
        return view;
    }

    public Task<PrefetchControlStatus> GetStatusAsync() => Task.FromResult(new PrefetchControlStatus
    {
        Settings = _view,
        Enabled = _options.Enabled,
        DryRun = _options.DryRun,
        IntervalSeconds = _options.Interval.TotalSeconds,
        Ticks = _ticks,
        LastDecision = _lastDecision,
        Proposed = _proposed,
        UnreachableRanks = _unreachable,
    });

    public Task<ControlDecisionRecord?> TickAsync() => RunIntervalAsync();

    public async Task<PrefetchSettingsView> SetAsync(PrefetchSettingsChange change, string changedBy, string reason)
    {
        ArgumentNullException.ThrowIfNull(change);
        changedBy = MoeCaller.Author(changedBy);
        if (string.IsNullOrWhiteSpace(changedBy) || string.IsNullOrWhiteSpace(reason))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a prefetch settings change needs who made it and why");
        PrefetchSettings next;
        try
        {
            next = PrefetchSettingsChanges.Apply(_settings, change.Lookahead, change.Thresholds, host.Config.LayerCount);
        }
        catch (ArgumentException e)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        string described = PrefetchSettingsChanges.Describe(_settings, next);
        bool changed = !PrefetchSettingsChanges.Same(_settings, next);
        int before = _settings.Lookahead;
        if (changed) await ApplyAsync(next, changedBy, reason);
        await RecordAsync(new ControlDecisionRecord
        {
            At = time.GetUtcNow(),
            Controller = Operator,
            Rank = null,
            Inputs = new() { ["lookahead_before"] = before, ["lookahead_after"] = next.Lookahead },
            Change = described,
            Reason = $"{changedBy}: {reason}",
            Outcome = "applied",
            Version = changed ? _view.Version : null,
        });
        return _view;
    }

    Task OnTimerAsync(CancellationToken cancellationToken) => _options.Enabled ? RunIntervalAsync() : Task.CompletedTask;

    async Task<ControlDecisionRecord?> RunIntervalAsync()
    {
        var (read, unreachable) = await ReadRanksAsync();
        long now = time.GetTimestamp();
        TimeSpan interval = time.GetElapsedTime(_lastTick, now);
        _lastTick = now;
        _ticks++;
        _unreachable = [.. unreachable];
        if (_loop.Decide(time.GetUtcNow(), interval, _settings, read, host.Config.LayerCount, unreachable, _options.DryRun) is not { } decided) return null;
        long? version = null;
        if (_options.DryRun)
            _proposed = decided.Changed ? View(_view.Version, Controller, decided.Decision.Reason, decided.Settings) : null;
        else if (decided.Changed)
        {
            await ApplyAsync(decided.Settings, Controller, decided.Decision.Reason);
            version = _view.Version;
        }
        ControlDecisionRecord record = DecisionRecords.From(decided.Decision, version);
        logger.LogInformation("Prefetch controller of {Model} ({Outcome}): {Change}; {Reason}", Model, record.Outcome, record.Change, record.Reason);
        await RecordAsync(record);
        return record;
    }

    /// <summary>Every live rank's cumulative counters; a rank that does not answer in time is left out of this interval.</summary>
    async Task<(List<RankPrefetchCounters> Read, List<int> Unreachable)> ReadRanksAsync()
    {
        int[] live = ranks.LiveRanks();
        var calls = live.Select(rank => GrainFactory.GetGrain<IPrefetchStatsGrain>(GrainKeys.Rank(Model, rank)).GetAsync().WaitAsync(_options.RankTimeout)).ToArray();
        try
        {
            await Task.WhenAll(calls);
        }
        catch
        {
            // Looked at one by one below.
        }
        var read = new List<RankPrefetchCounters>();
        var unreachable = new List<int>();
        for (int i = 0; i < live.Length; i++)
        {
            if (calls[i].IsCompletedSuccessfully)
            {
                RankPrefetchStats stats = calls[i].Result;
                read.Add(new RankPrefetchCounters(live[i], stats.Epoch,
                    [.. stats.Layers.Select(l => new PrefetchLayerStats(l.Layer, l.Issued, l.UsedBytes, l.WastedBytes, l.Failures, l.StallSeconds))]));
            }
            else
            {
                unreachable.Add(live[i]);
                logger.LogWarning("Prefetch controller of {Model} could not read rank {Rank}: {Error}", Model, live[i], calls[i].Exception?.GetBaseException().Message);
            }
        }
        return (read, unreachable);
    }

    /// <summary>Makes <paramref name="next"/> the current settings, as a new version kept in <see cref="ControlStorage"/>.</summary>
    Task ApplyAsync(PrefetchSettings next, string changedBy, string reason)
    {
        _settings = next;
        _view = View(_view.Version + 1, changedBy, reason);
        _proposed = null;
        saved.State = _view;
        return saved.WriteStateAsync();
    }

    PrefetchSettingsView View(long version, string changedBy, string reason, PrefetchSettings? settings = null) => new()
    {
        Version = version,
        Lookahead = (settings ?? _settings).Lookahead,
        Thresholds = [.. (settings ?? _settings).Thresholds],
        ChangedBy = changedBy,
        ChangedAt = time.GetUtcNow(),
        Reason = reason,
    };

    /// <summary>Keeps the decision for the status and sends it to the model's decision log; a log that cannot be reached costs a warning, never the tick.</summary>
    async Task RecordAsync(ControlDecisionRecord record)
    {
        _lastDecision = record;
        try
        {
            await GrainFactory.GetGrain<IControlDecisionLogGrain>(Model).RecordAsync([record]).WaitAsync(_options.RankTimeout);
        }
        catch (Exception e)
        {
            logger.LogWarning("Prefetch controller of {Model} could not record its decision in the decision log: {Error}", Model, e.Message);
        }
    }
}
