using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Loop;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Serving.Tiers;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Control;

/// <summary>
/// The tier controllers of one model, on a grain timer. The grain only holds state and talks to other grains; what to
/// move is decided by the Control library (<see cref="LatencyController"/>, <see cref="CostController"/>, guardrails).
/// What operators set — pins, the run-time dry-run switch — and the telemetry sampling are kept in
/// <see cref="ControlStorage"/> and survive the grain moving to another silo. The controllers' demand per expert and the
/// last counters read per rank live in memory: after a reactivation demand rebuilds within a few half-lives, and the
/// first interval per rank counts everything the rank counted since it started.
/// </summary>
public sealed partial class TierControllerGrain(
    [PersistentState("tier-controller", ControlStorage.Name)] IPersistentState<TierControllerState> saved,
    ModelHost host, RankDirectory ranks, IOptions<MoeSiloOptions> options, IOptions<TelemetryOptions> telemetry,
    TimeProvider time, ILogger<TierControllerGrain> logger)
    : Grain, ITierControllerGrain
{
    readonly ControlOptions _options = options.Value.Control;
    readonly Dictionary<int, RankCounters> _counters = [];
    readonly Dictionary<int, RankControlStatus> _ranks = [];
    readonly Dictionary<ExpertKey, ExpertPin> _pins = [];
    LatencyController _latency = null!;
    CostController _cost = null!;
    IGrainTimer? _timer;
    bool _dryRun;
    DateTimeOffset? _lastTick;
    DateTimeOffset _activatedAt;
    long _ticks;
    string? _lastError;
    string[] _staleRanks = [];
    double? _dollarsPerThousandTokens;
    TelemetrySamplingView _sampling = new();

    string Model => this.GetPrimaryKeyString();

    IControlDecisionLogGrain Log => GrainFactory.GetGrain<IControlDecisionLogGrain>(Model);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        host.EnsureServes(Model);
        _latency = new LatencyController(_options.Latency);
        _cost = new CostController(_options.CostController(telemetry.Value.Costs));
        _dryRun = saved.State.DryRun ?? _options.DryRun;
        foreach (ExpertPin pin in saved.State.Pins) _pins[ExpertKey.Parse(pin.Expert)] = pin;
        _sampling = saved.State.Sampling;
        _activatedAt = time.GetUtcNow();
        if (saved.RecordExists)
            logger.LogInformation("Tier controllers of {Model} resumed: {Pins} pins, dry run {DryRun}, telemetry sampling {Ratio} (v{Version})",
                Model, _pins.Count, _dryRun ? "on" : "off", _sampling.Ratio, _sampling.Version);
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
            _timer = this.RegisterGrainTimer(_ => TickSafelyAsync(),
                new GrainTimerCreationOptions { DueTime = _options.Interval, Period = _options.Interval, KeepAlive = true });
            logger.LogInformation("Tier controllers of {Model} started: every {Interval}{DryRun}", Model, _options.Interval, _dryRun ? ", dry run" : "");
        }
        return Task.CompletedTask;
    }

    public async Task<ControllerStatus> TickAsync()
    {
        await TickSafelyAsync();
        return Status();
    }

    public Task<ControllerStatus> GetStatusAsync() => Task.FromResult(Status());

    public Task<TelemetrySamplingView> GetSamplingAsync() => Task.FromResult(_sampling);

    public async Task<ControllerStatus> SetDryRunAsync(bool dryRun)
    {
        if (dryRun != _dryRun)
        {
            _dryRun = dryRun;
            saved.State.DryRun = dryRun;
            await SaveAsync();
            await Log.RecordAsync([Operator(dryRun ? "dry run on" : "dry run off", dryRun ? "decisions are only proposed" : "admitted decisions are written", null, null)]);
            logger.LogInformation("Tier controllers of {Model}: dry run {State}", Model, dryRun ? "on" : "off");
        }
        return Status();
    }

    public async Task<ControllerStatus> PinAsync(string expertKey, string? tier, string by, string reason)
    {
        if (string.IsNullOrWhiteSpace(by) || string.IsNullOrWhiteSpace(reason))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, "a pin needs who set it and why");
        ExpertKey key = ParseExpert(expertKey);
        if (tier is null)
        {
            bool removed = _pins.Remove(key);
            if (removed) await SaveAsync();
            await Log.RecordAsync([Operator($"{key} unpinned", removed ? $"{by}: {reason}" : $"{by}: {reason} (it was not pinned)", null, null)]);
            return Status();
        }
        Tier pinned = ParseTier(tier);
        var pin = new ExpertPin { Expert = key.ToString(), Tier = Names.Of(pinned), By = by, Reason = reason, At = time.GetUtcNow() };
        // Applied before it is kept: a pin the budgets refuse is not a pin.
        var written = new List<ControlDecisionRecord>();
        foreach (int rank in ranks.LiveRanks())
        {
            ITierSetGrain tierSet = TierSet(rank);
            TierControlState state = await tierSet.GetControlStateAsync();
            if (state.Experts.FirstOrDefault(e => e.Expert == pin.Expert) is not { } expert) continue;
            long? version = expert.Tier == pin.Tier ? null : (await WritePinAsync(tierSet, pin, "pinned", state)).Version;
            written.Add(Operator($"{pin.Expert} pinned to {pin.Tier}", $"{by}: {reason}", rank, version));
        }
        _pins[key] = pin;
        await SaveAsync();
        if (written.Count == 0) written.Add(Operator($"{pin.Expert} pinned to {pin.Tier}", $"{by}: {reason} (no rank holds it yet; applied when one does)", null, null));
        await Log.RecordAsync([.. written]);
        return Status();
    }

    /// <summary>
    /// Writes a pin. A pin to hot also lifts the rank's hot limit back to its ceiling: the pin must fit the budget the
    /// operator or the configuration set, not the limit the latency controller keeps (which it lowers again next interval).
    /// </summary>
    Task<TierSetView> WritePinAsync(ITierSetGrain tierSet, ExpertPin pin, string what, TierControlState state) => tierSet.UpdateAsync(new TierSetUpdate
    {
        Tiers = new() { [pin.Expert] = pin.Tier },
        HotBudgetBytes = pin.Tier == "hot" && state.HotCeilingBytes > state.View.HotBudgetBytes ? state.HotCeilingBytes : null,
        ChangedBy = $"operator:{pin.By}",
        Reason = $"{pin.Expert} {what} to {pin.Tier}: {pin.Reason}",
    });

    ControlDecisionRecord Operator(string change, string reason, int? rank, long? version) => new()
    {
        At = time.GetUtcNow(),
        Controller = "operator",
        Rank = rank,
        Change = change,
        Reason = reason,
        Outcome = "applied",
        Version = version,
    };

    ControllerStatus Status() => new()
    {
        Model = Model,
        Enabled = _options.Enabled,
        Running = _timer is not null,
        DryRun = _dryRun,
        Interval = _options.Interval,
        LastTickAt = _lastTick,
        Ticks = _ticks,
        Ranks = _ranks.Values.OrderBy(r => r.Rank).ToArray(),
        Pins = _pins.Values.OrderBy(p => p.Expert, StringComparer.Ordinal).ToArray(),
        DollarsPerThousandTokens = _dollarsPerThousandTokens,
        LastError = _lastError,
        StaleTelemetryRanks = _staleRanks,
        Sampling = _sampling,
    };

    ITierSetGrain TierSet(int rank) => GrainFactory.GetGrain<ITierSetGrain>(ExpertKeys.OfRank(Model, rank));

    ExpertKey ParseExpert(string text)
    {
        ExpertKey key;
        try
        {
            key = ExpertKey.Parse(text);
        }
        catch (Exception e) when (e is FormatException or ArgumentNullException)
        {
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message);
        }
        if (key.Model != Model || (uint)key.Layer >= (uint)host.Config.LayerCount || (uint)key.Expert >= (uint)host.Config.ExpertCount)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {key} is not an expert of model {Model}");
        return key;
    }

    static Tier ParseTier(string text) =>
        Enum.TryParse(text, ignoreCase: true, out Tier tier) && Enum.IsDefined(tier) && !int.TryParse(text, out _)
            ? tier
            : throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"'{text}' is not a tier (hot, warm, cold)");

    /// <summary>Tier names as TierSets spell them.</summary>
    static class Names
    {
        public static string Of(Tier tier) => tier.ToString().ToLowerInvariant();
    }
}
