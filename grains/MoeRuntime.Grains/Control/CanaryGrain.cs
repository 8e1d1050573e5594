using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Canary;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Security;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Grains.Control;

/// <summary>
/// Canary trials of TierSet changes (see <see cref="ICanaryGrain"/>). The judging is <see cref="CanaryJudge"/>; this grain
/// writes the change on the canary ranks, reads every trial rank's tier-store counters and latency each interval
/// (<see cref="CanarySamples"/>), and promotes or rolls back. Its state is in <see cref="ControlStorage"/>; the counters
/// it differences are in memory, so after the grain moves the first interval only takes a new baseline.
/// </summary>
public sealed class CanaryGrain(
    [PersistentState("canary", ControlStorage.Name)] IPersistentState<CanaryState> saved,
    ModelHost host, RankDirectory ranks, IOptions<MoeSiloOptions> options, IOptions<TelemetryOptions> telemetry,
    TimeProvider time, ILogger<CanaryGrain> logger)
    : Grain, ICanaryGrain
{
    /// <summary>Ended trials kept for status.</summary>
    public const int RecentTrials = 10;

    /// <summary>The metrics a prefetch trial is judged on when its request names none: what prefetching is for.</summary>
    public static readonly CanaryMetric[] PrefetchMetrics = [CanaryMetric.FetchStallPerThousandCalls, CanaryMetric.InterTokenP95];

    /// <summary>The metrics a placement trial is judged on when its plan names none: what placement changes for a router.</summary>
    public static readonly CanaryMetric[] PlacementMetrics = [CanaryMetric.InterTokenP95, CanaryMetric.TimeToFirstTokenP95, CanaryMetric.HotHitRatio];

    /// <summary>The metrics judged when a request names none.</summary>
    public static readonly CanaryMetric[] DefaultMetrics =
        [CanaryMetric.InterTokenP95, CanaryMetric.TimeToFirstTokenP95, CanaryMetric.HotHitRatio, CanaryMetric.FetchStallPerThousandCalls];

    const string Controller = "canary";
    readonly ControlOptions _control = options.Value.Control;
    /// <summary>The cost controller's prices: a rank's cost per 1000 tokens is judged in the units the controller optimises.</summary>
    readonly CostModel _prices = options.Value.Control.CostController(telemetry.Value.Costs).Model;
    readonly Dictionary<int, RankRead> _counters = [];
    IGrainTimer? _timer;

    string Model => this.GetPrimaryKeyString();

    CanaryOptions Options => _control.Canary;

    CanaryTrialState? Trial => saved.State.Trial;

    IControlDecisionLogGrain Log => GrainFactory.GetGrain<IControlDecisionLogGrain>(Model);

    IExpertPlacementGrain Map => GrainFactory.GetGrain<IExpertPlacementGrain>(Model);

    IPrefetchControllerGrain Prefetch => GrainFactory.GetGrain<IPrefetchControllerGrain>(Model);

    ITierSetGrain TierSet(int rank) => GrainFactory.GetGrain<ITierSetGrain>(GrainKeys.Rank(Model, rank));

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        host.EnsureServes(Model);
        if (Trial is { } trial)
        {
            CanaryLog.Resumed(logger, Model, trial.View.Id, trial.Intervals.Count);
            StartTimer();
        }
        return Task.CompletedTask;
    }

    public async Task<CanaryStatus> StartAsync(CanaryRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!Options.Enabled) throw Invalid("canary trials are off (Moe:Control:Canary:Enabled is false)");
        if (Trial is { } running)
            throw Invalid($"canary trial {running.View.Id} is under way; end it first (moe control canary promote|rollback)");
        string by = MoeCaller.Author(request.By);
        if (string.IsNullOrWhiteSpace(by) || string.IsNullOrWhiteSpace(request.Reason)) throw Invalid("a canary trial needs who started it and why");
        if (request.Placement.Count > 0)
        {
            if (request.Tiers.Count > 0 || request.HotBudgetBytes is not null || request.Prefetch is not null)
                throw Invalid("a canary trial changes one thing: a placement plan, prefetch settings, or tiers and hot budget");
            return await StartPlacementAsync(request, by);
        }
        if (request.Prefetch is { } prefetch)
        {
            if (request.Tiers.Count > 0 || request.HotBudgetBytes is not null)
                throw Invalid("a canary trial changes either prefetch settings or tiers and hot budget, not both");
            return await StartPrefetchAsync(request, prefetch, by);
        }
        if (request.Tiers.Count == 0 && request.HotBudgetBytes is null) throw Invalid("a canary trial needs a change: experts' tiers, a hot budget or prefetch settings");
        if (request.HotBudgetBytes is < 0) throw Invalid($"the hot budget must not be negative, was {request.HotBudgetBytes}");
        var tiers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (expert, tier) in request.Tiers)
            tiers[GrainKeys.ExpertOfModel(expert, Model, host.Config).ToString()] = TierNames.Of(ControlRequests.Tier(tier));
        CanaryTrialView view = Starting(by, request.Reason, Choose(), MetricsOf(request, DefaultMetrics)) with
        {
            Tiers = tiers,
            HotBudgetBytes = request.HotBudgetBytes,
        };
        long id = view.Id;
        string why = $"{by}: {request.Reason}";
        var before = new List<CanaryRankBefore>();
        var records = new List<ControlDecisionRecord>();
        try
        {
            foreach (int rank in view.CanaryRanks)
            {
                TierControlState state = await TierSet(rank).GetControlStateAsync();
                Dictionary<string, string> held = state.Experts.ToDictionary(e => e.Expert, e => e.Tier, StringComparer.Ordinal);
                Dictionary<string, string> change = tiers.Where(t => held.ContainsKey(t.Key)).ToDictionary();
                TierSetView written = await TierSet(rank).UpdateAsync(new TierSetUpdate
                {
                    Tiers = change,
                    HotBudgetBytes = request.HotBudgetBytes,
                    ChangedBy = $"canary:{by}",
                    Reason = $"canary trial {id}: {request.Reason}",
                    ExpectedVersion = state.View.Version,
                });
                before.Add(new CanaryRankBefore
                {
                    Rank = rank,
                    Tiers = change.Keys.ToDictionary(k => k, k => held[k], StringComparer.Ordinal),
                    HotCeilingBytes = state.HotCeilingBytes,
                    WrittenVersion = written.Version,
                });
                records.Add(Record($"canary trial {id} started: {Describe(change, request.HotBudgetBytes)}", why, rank, written.Version,
                    new() { ["moved"] = change.Count, ["canary_ranks"] = view.CanaryRanks.Length, ["control_ranks"] = view.ControlRanks.Length }));
            }
        }
        catch (MoeRequestException e)
        {
            // A canary rank refused the change: the ranks already written get their previous tiers back.
            foreach (CanaryRankBefore written in before) await RestoreAsync(written, request.HotBudgetBytes is not null, id, "the trial could not start");
            throw Invalid($"canary trial not started: {e.Message}");
        }

        await BeginAsync(view, before, records, Describe(tiers, request.HotBudgetBytes));
        return Status();
    }

    /// <summary>Prefetch settings on the canary ranks only (an override the prefetch controller serves to their routers).</summary>
    async Task<CanaryStatus> StartPrefetchAsync(CanaryRequest request, PrefetchSettingsChange change, string by)
    {
        if (change.Lookahead is null && change.Thresholds.Count == 0) throw Invalid("a prefetch canary trial needs a lookahead or thresholds");
        CanaryTrialView view = Starting(by, request.Reason, Choose(), MetricsOf(request, PrefetchMetrics)) with { Kind = CanaryKinds.Prefetch, Prefetch = change };
        string described = $"prefetch {DescribePrefetch(change)}";
        PrefetchSettingsView written = await Prefetch.SetRankOverrideAsync(view.CanaryRanks, change, $"canary:{by}", $"canary trial {view.Id}: {request.Reason}");
        List<ControlDecisionRecord> records = [.. view.CanaryRanks.Select(rank => Record($"canary trial {view.Id} started: {described}", $"{by}: {request.Reason}", rank, written.Version,
            new() { ["lookahead"] = written.Lookahead, ["canary_ranks"] = view.CanaryRanks.Length, ["control_ranks"] = view.ControlRanks.Length }))];
        await BeginAsync(view, [], records, described);
        return Status();
    }

    public async Task<CanaryPlanOutcome> SubmitPlanAsync(CanaryPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!Options.Enabled) return new() { Refusal = "canary trials are off (Moe:Control:Canary:Enabled is false)" };
        if (Trial is { } running)
            return new() { Refusal = $"canary trial {running.View.Id} is under way (one at a time); planned again next interval" };
        int[] live = [.. ranks.LiveRanks().Distinct().Order()];
        if (!live.Contains(plan.Rank) || live.Length < 2)
            return new() { Refusal = $"rank {plan.Rank} has no live control rank to be judged against" };
        CanaryTrialView view = Starting(plan.Controller, plan.Reason, new CanaryRanks([plan.Rank], [.. live.Where(r => r != plan.Rank)]), DefaultMetrics) with
        {
            Kind = CanaryKinds.Plan,
            Tiers = plan.Tiers,
            HotLimitBytes = plan.HotLimitBytes,
        };
        long id = view.Id;
        TierControlState state = await TierSet(plan.Rank).GetControlStateAsync();
        Dictionary<string, string> held = state.Experts.ToDictionary(e => e.Expert, e => e.Tier, StringComparer.Ordinal);
        TierSetView written;
        try
        {
            written = await TierSet(plan.Rank).UpdateAsync(new TierSetUpdate
            {
                Tiers = plan.Tiers,
                HotBudgetBytes = plan.HotLimitBytes,
                HotBudgetIsLimit = plan.HotLimitBytes is not null,
                ChangedBy = $"canary:{plan.Controller}",
                Reason = $"canary trial {id}: {plan.Reason}",
                ExpectedVersion = plan.ExpectedVersion,
            });
        }
        catch (MoeRequestException e)
        {
            return new() { Refusal = e.Message };
        }
        string described = Describe(plan.Tiers, null) + (plan.HotLimitBytes is { } limit ? $"; hot limit {limit} bytes" : "");
        var before = new CanaryRankBefore
        {
            Rank = plan.Rank,
            Tiers = plan.Tiers.Keys.Where(held.ContainsKey).ToDictionary(k => k, k => held[k], StringComparer.Ordinal),
            HotCeilingBytes = state.HotCeilingBytes,
            HotLimitBytes = plan.HotLimitBytes is null ? null : state.View.HotBudgetBytes,
            WrittenVersion = written.Version,
        };
        ControlDecisionRecord record = Record($"canary trial {id} started: {plan.Controller}'s plan of {plan.Tiers.Count} moves (over {Options.AutoTrialAbove}): {described}",
            $"{plan.Controller}: {plan.Reason}", plan.Rank, written.Version, new() { ["moved"] = plan.Tiers.Count, ["auto_trial_above"] = Options.AutoTrialAbove, ["control_ranks"] = view.ControlRanks.Length });
        await BeginAsync(view, [before], [record], described);
        return new() { TrialId = id, Version = written.Version };
    }

    public async Task<CanaryPlanOutcome> SubmitPlacementAsync(CanaryPlacementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!Options.Enabled) return new() { Refusal = "canary trials are off (Moe:Control:Canary:Enabled is false)" };
        if (Trial is { } running)
            return new() { Refusal = $"canary trial {running.View.Id} is under way (one at a time)" };
        if (plan.Replicas.Count == 0) return new() { Refusal = "the placement plan changes no expert" };
        string by = MoeCaller.Author(plan.By);
        if (string.IsNullOrWhiteSpace(by) || string.IsNullOrWhiteSpace(plan.Reason)) return new() { Refusal = "a placement trial needs who made the plan and why" };
        CanaryTrialView view;
        try
        {
            CanaryMetric[] metrics = plan.Metrics.Length == 0 ? PlacementMetrics : [.. plan.Metrics.Select(CanaryMetrics.Parse).Distinct()];
            view = Starting(by, plan.Reason, CanaryRanks.Choose(ranks.LiveRanks(), Options), metrics) with { Kind = CanaryKinds.Placement, Placement = plan.Replicas };
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return new() { Refusal = e.Message };
        }
        long id = view.Id;
        PlacementMapView current = await Map.GetAsync();
        if (current.TrialRanks.Length > 0) return new() { Refusal = $"placement map v{current.Version} is still a trial's version" };
        Dictionary<string, int[]> before = plan.Replicas.Keys.ToDictionary(k => k, k => current.Replicas.GetValueOrDefault(k, []), StringComparer.Ordinal);
        PlacementMapView written;
        try
        {
            written = await Map.ApplyAsync(new PlacementMapUpdate
            {
                Replicas = plan.Replicas,
                ChangedBy = $"canary:{by}",
                Reason = $"canary trial {id}: {plan.Reason}",
                ExpectedVersion = plan.ExpectedVersion,
                Changes = plan.Changes,
                TrialRanks = view.CanaryRanks,
                TrialBefore = before,
            });
        }
        catch (MoeRequestException e)
        {
            return new() { Refusal = e.Message };
        }
        string described = DescribePlacement(plan.Replicas, before);
        List<ControlDecisionRecord> records = [.. view.CanaryRanks.Select(rank => Record($"canary trial {id} started: placement plan of {plan.Changes.Length} change(s) for this rank's router: {described}",
            $"{by}: {plan.Reason}", rank, written.Version,
            new() { ["experts"] = plan.Replicas.Count, ["replaced_version"] = current.Version, ["canary_ranks"] = view.CanaryRanks.Length, ["control_ranks"] = view.ControlRanks.Length }))];
        await BeginAsync(view with { PlacementVersions = [current.Version, written.Version] }, [], records, described);
        saved.State.Trial!.PlacementBefore = before;
        await saved.WriteStateAsync();
        return new() { TrialId = id, Version = written.Version };
    }

    /// <summary>
    /// The view of a trial starting now, whatever it changes: the next id, who and why, its canary and control ranks and
    /// the metrics it is judged on; the caller adds its kind and change.
    /// </summary>
    CanaryTrialView Starting(string by, string reason, CanaryRanks chosen, IEnumerable<CanaryMetric> metrics) => new()
    {
        Id = saved.State.NextId,
        StartedAt = time.GetUtcNow(),
        By = by,
        Reason = reason,
        CanaryRanks = [.. chosen.Canary],
        ControlRanks = [.. chosen.Control],
        Metrics = [.. metrics.Select(CanaryMetrics.Name)],
        Verdict = "continue",
        Judgement = "started: the first interval is measured from now",
    };

    /// <summary>An operator's placement plan, tried as the balancer's are: from the map's current version, refusals as errors.</summary>
    async Task<CanaryStatus> StartPlacementAsync(CanaryRequest request, string by)
    {
        var replicas = new Dictionary<string, int[]>(StringComparer.Ordinal);
        foreach (var (expert, ranksOf) in request.Placement)
            replicas[GrainKeys.ExpertOfModel(expert, Model, host.Config).ToString()] = [.. ranksOf ?? []];
        PlacementMapView current = await Map.GetAsync();
        CanaryPlanOutcome outcome = await SubmitPlacementAsync(new CanaryPlacementPlan
        {
            Replicas = replicas,
            ExpectedVersion = current.Version,
            By = by,
            Reason = request.Reason,
            Changes = [.. replicas.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r => $"{r.Key} -> {(r.Value.Length == 0 ? "default" : string.Join(",", r.Value))}")],
            Metrics = request.Metrics,
        });
        return outcome.Refusal.Length > 0 ? throw Invalid($"placement trial refused: {outcome.Refusal}") : Status();
    }

    /// <summary>Makes <paramref name="view"/> the trial under way: interval 1 starts after the change, from every trial rank's counters now.</summary>
    async Task BeginAsync(CanaryTrialView view, List<CanaryRankBefore> before, List<ControlDecisionRecord> records, string described)
    {
        saved.State.NextId = view.Id + 1;
        saved.State.Trial = new CanaryTrialState { View = view, Before = before };
        _counters.Clear();
        foreach (int rank in view.CanaryRanks.Concat(view.ControlRanks)) _counters[rank] = await ReadAsync(rank);
        await saved.WriteStateAsync();
        await Log.RecordAsync([.. records]);
        CanaryLog.Started(logger, Model, view.Id, string.Join(",", view.CanaryRanks), string.Join(",", view.ControlRanks), described);
        StartTimer();
    }

    CanaryMetric[] MetricsOf(CanaryRequest request, CanaryMetric[] defaults)
    {
        try
        {
            return request.Metrics.Length == 0 ? defaults : [.. request.Metrics.Select(CanaryMetrics.Parse).Distinct()];
        }
        catch (ArgumentException e)
        {
            throw Invalid(e.Message);
        }
    }

    CanaryRanks Choose()
    {
        try
        {
            return CanaryRanks.Choose(ranks.LiveRanks(), Options);
        }
        catch (InvalidOperationException e)
        {
            throw Invalid(e.Message);
        }
    }

    public async Task<CanaryStatus> TickAsync()
    {
        await JudgeAsync();
        return Status();
    }

    public Task<CanaryStatus> GetStatusAsync() => Task.FromResult(Status());

    public Task<int[]> GetHeldRanksAsync() =>
        Task.FromResult(Trial is { View.Kind: not CanaryKinds.Prefetch and not CanaryKinds.Placement } trial ? trial.View.CanaryRanks : []);

    public async Task<CanaryStatus> EndAsync(bool promote, string by, string reason)
    {
        by = MoeCaller.Author(by);
        if (string.IsNullOrWhiteSpace(by) || string.IsNullOrWhiteSpace(reason)) throw Invalid("ending a canary trial needs who ends it and why");
        if (Trial is null) throw Invalid("no canary trial is under way");
        string why = $"forced by {by}: {reason}";
        if (promote) await PromoteAsync(why, []);
        else await RollBackAsync(why, []);
        return Status();
    }

    void StartTimer() => _timer ??= this.RegisterGrainTimer(_ => JudgeAsync(),
        new GrainTimerCreationOptions { DueTime = _control.Interval, Period = _control.Interval, KeepAlive = true });

    /// <summary>One interval: every trial rank's figures since the last, the noise rule over all intervals so far, and its verdict carried out.</summary>
    async Task JudgeAsync()
    {
        if (Trial is not { } trial) return;
        var ranksOfTrial = new CanaryRanks(trial.View.CanaryRanks, trial.View.ControlRanks);
        HashSet<int> live = [.. ranks.LiveRanks()];
        var samples = new List<CanaryRankSample>();
        foreach (int rank in trial.View.CanaryRanks.Concat(trial.View.ControlRanks).Where(live.Contains))
        {
            try
            {
                RankRead now = await ReadAsync(rank);
                if (_counters.TryGetValue(rank, out RankRead? last))
                {
                    TelemetryView? view = await RankViewAsync(rank);
                    ObservedLatency latency = view is null ? ObservedLatency.None : TelemetryReadings.Latency(view);
                    double? tokensPerSecond = view is null ? null : view.Requests.PromptTokensPerSecond + view.Requests.CompletionTokensPerSecond;
                    double? dollars = CanaryCost.DollarsPerThousandTokens(_prices, now.HotBytes, now.WarmBytes, now.At - last.At, last.Counters, now.Counters, tokensPerSecond);
                    RankSample sample = CanarySamples.From(rank, last.Counters, now.Counters, latency, dollars);
                    samples.Add(new CanaryRankSample { Rank = rank, Values = sample.Values.ToDictionary(v => CanaryMetrics.Name(v.Key), v => v.Value) });
                }
                _counters[rank] = now;
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                CanaryLog.RankUnread(logger, Model, trial.View.Id, rank, e);
            }
        }
        if (samples.Count == 0) return; // a first read after the grain moved: the baseline only
        trial.Intervals.Add([.. samples]);
        CanaryMetric[] metrics = [.. trial.View.Metrics.Select(CanaryMetrics.Parse)];
        CanaryJudgement judgement = CanaryJudge.Judge([.. trial.Intervals.Select(Samples)], ranksOfTrial, metrics, Options);
        CanaryMetricView[] figures = [.. judgement.Metrics.Select(Figure)];
        Dictionary<string, double> inputs = Inputs(judgement.Metrics);
        string verdict = Verdict(judgement.Verdict);
        ControlDecisionRecord record = Record($"canary trial {trial.View.Id} interval {judgement.Interval}: {verdict}", judgement.Reason, null, null, inputs);
        CanaryLog.Judged(logger, Model, trial.View.Id, judgement.Interval, verdict, judgement.Reason);
        trial.View = trial.View with { Intervals = judgement.Interval, Judgement = judgement.Reason, Figures = figures };
        switch (judgement.Verdict)
        {
            case CanaryVerdict.Promote:
                await PromoteAsync(judgement.Reason, [record]);
                break;
            case CanaryVerdict.RollBack:
                await RollBackAsync(judgement.Reason, [record]);
                break;
            default:
                await saved.WriteStateAsync();
                await Log.RecordAsync([record]);
                break;
        }
    }

    /// <summary>Writes the change on every control rank (each checked against the version read), then ends the trial as promoted.</summary>
    async Task PromoteAsync(string reason, List<ControlDecisionRecord> records)
    {
        CanaryTrialState trial = Trial!;
        if (trial.View.Kind == CanaryKinds.Plan)
        {
            // A controller's plan is for its rank's experts: promoted, it stays there; the controllers take the rank back.
            records.Add(Record($"canary trial {trial.View.Id} promoted: {trial.View.By}'s plan kept", reason, trial.View.CanaryRanks[0], trial.Before[0].WrittenVersion, new()));
            await EndAsync(trial, "promoted", reason, records);
            return;
        }
        if (trial.View.Kind == CanaryKinds.Placement)
        {
            long written = trial.View.PlacementVersions is [_, var w] ? w : 0;
            try
            {
                PlacementMapView map = await Map.ApplyAsync(new PlacementMapUpdate
                {
                    Replicas = trial.View.Placement,
                    ChangedBy = "canary:promote",
                    Reason = $"canary trial {trial.View.Id} promoted: {trial.View.Reason}",
                    ExpectedVersion = written,
                });
                records.Add(Record($"canary trial {trial.View.Id} promoted: the placement plan for every router ({DescribePlacement(trial.View.Placement, trial.PlacementBefore)})",
                    reason, null, map.Version, new() { ["trial_version"] = written }));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                // The map moved on since the trial's version (an operator's write): the trial's routing is left as written.
                records.Add(Record($"canary trial {trial.View.Id} not promoted", $"{reason}; not written: {e.Message}", null, null, new(), DecisionOutcome.Refused));
            }
            await EndAsync(trial, "promoted", reason, records);
            return;
        }
        if (trial.View.Kind == CanaryKinds.Prefetch)
        {
            try
            {
                PrefetchSettingsView settings = await Prefetch.SetAsync(trial.View.Prefetch!, "canary:promote", $"canary trial {trial.View.Id} promoted: {trial.View.Reason}");
                await Prefetch.SetRankOverrideAsync(trial.View.CanaryRanks, null, "canary:promote", $"canary trial {trial.View.Id} promoted");
                records.Add(Record($"canary trial {trial.View.Id} promoted: prefetch {DescribePrefetch(trial.View.Prefetch!)} on every rank", reason, null, settings.Version, new()));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                records.Add(Record($"canary trial {trial.View.Id} not promoted", $"{reason}; not written: {e.Message}", null, null, new(), DecisionOutcome.Refused));
            }
            await EndAsync(trial, "promoted", reason, records);
            return;
        }
        HashSet<int> live = [.. ranks.LiveRanks()];
        foreach (int rank in trial.View.ControlRanks.Where(live.Contains))
        {
            try
            {
                TierControlState state = await TierSet(rank).GetControlStateAsync();
                HashSet<string> held = [.. state.Experts.Select(e => e.Expert)];
                Dictionary<string, string> change = trial.View.Tiers.Where(t => held.Contains(t.Key)).ToDictionary();
                TierSetView written = await TierSet(rank).UpdateAsync(new TierSetUpdate
                {
                    Tiers = change,
                    HotBudgetBytes = trial.View.HotBudgetBytes,
                    ChangedBy = "canary:promote",
                    Reason = $"canary trial {trial.View.Id} promoted: {trial.View.Reason}",
                    ExpectedVersion = state.View.Version,
                });
                records.Add(Record($"canary trial {trial.View.Id} promoted: {Describe(change, trial.View.HotBudgetBytes)}", reason, rank, written.Version, new()));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                records.Add(Record($"canary trial {trial.View.Id} not promoted on this rank", $"{reason}; not written: {e.Message}", rank, null, new(), DecisionOutcome.Refused));
            }
        }
        await EndAsync(trial, "promoted", reason, records);
    }

    /// <summary>Restores every canary rank's previous tiers (and hot ceiling, if the change set one), then ends the trial as rolled back.</summary>
    async Task RollBackAsync(string reason, List<ControlDecisionRecord> records)
    {
        CanaryTrialState trial = Trial!;
        if (trial.View.Kind == CanaryKinds.Prefetch)
        {
            try
            {
                PrefetchSettingsView settings = await Prefetch.SetRankOverrideAsync(trial.View.CanaryRanks, null, "canary:rollback", $"canary trial {trial.View.Id} rolled back: {reason}");
                records.AddRange(trial.View.CanaryRanks.Select(rank => Record($"canary trial {trial.View.Id} rolled back: the cluster's prefetch settings again (lookahead {settings.Lookahead})",
                    reason, rank, settings.Version, new())));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                records.Add(Record($"canary trial {trial.View.Id} roll-back failed", $"{reason}; not written: {e.Message}", null, null, new(), DecisionOutcome.Refused));
            }
        }
        if (trial.View.Kind == CanaryKinds.Placement)
        {
            try
            {
                // Versioned forward, never rewound: the replaced placements as a new version, whatever was written since.
                PlacementMapView map = await Map.ApplyAsync(new PlacementMapUpdate
                {
                    Replicas = trial.PlacementBefore,
                    ChangedBy = "canary:rollback",
                    Reason = $"canary trial {trial.View.Id} rolled back: {reason}",
                });
                records.AddRange(trial.View.CanaryRanks.Select(rank => Record($"canary trial {trial.View.Id} rolled back: the placements before it again ({DescribePlacement(trial.PlacementBefore, trial.View.Placement)})",
                    reason, rank, map.Version, new() { ["trial_version"] = trial.View.PlacementVersions is [_, var w] ? w : 0 })));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                records.Add(Record($"canary trial {trial.View.Id} roll-back failed", $"{reason}; not written: {e.Message}", null, null, new(), DecisionOutcome.Refused));
            }
        }
        foreach (CanaryRankBefore before in trial.Before)
        {
            try
            {
                long version = await RestoreAsync(before, trial.View.HotBudgetBytes is not null, trial.View.Id, reason);
                records.Add(Record($"canary trial {trial.View.Id} rolled back: {Describe(before.Tiers, trial.View.HotBudgetBytes is null ? null : before.HotCeilingBytes)}",
                    reason, before.Rank, version, new() { ["trial_version"] = before.WrittenVersion }));
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
            {
                records.Add(Record($"canary trial {trial.View.Id} roll-back failed on this rank", $"{reason}; not written: {e.Message}", before.Rank, null, new(), DecisionOutcome.Refused));
            }
        }
        await EndAsync(trial, "rolled back", reason, records);
    }

    /// <summary>Writes a canary rank's previous tiers back, whatever was written since (a roll-back is not a plan computed from a version).</summary>
    async Task<long> RestoreAsync(CanaryRankBefore before, bool budget, long id, string reason) => (await TierSet(before.Rank).UpdateAsync(new TierSetUpdate
    {
        Tiers = before.Tiers,
        HotBudgetBytes = before.HotLimitBytes ?? (budget ? before.HotCeilingBytes : null),
        HotBudgetIsLimit = before.HotLimitBytes is not null,
        ChangedBy = "canary:rollback",
        Reason = $"canary trial {id} rolled back: {reason}",
    })).Version;

    async Task EndAsync(CanaryTrialState trial, string verdict, string reason, List<ControlDecisionRecord> records)
    {
        saved.State.Recent.Insert(0, trial.View with { Verdict = verdict, Judgement = reason, EndedAt = time.GetUtcNow() });
        if (saved.State.Recent.Count > RecentTrials) saved.State.Recent.RemoveRange(RecentTrials, saved.State.Recent.Count - RecentTrials);
        saved.State.Trial = null;
        _counters.Clear();
        _timer?.Dispose();
        _timer = null;
        await saved.WriteStateAsync();
        await Log.RecordAsync([.. records]);
        CanaryLog.Ended(logger, Model, trial.View.Id, verdict, reason);
    }

    /// <summary>A rank's tier-store counters and the hot and warm memory its TierSet assigns, when read.</summary>
    sealed record RankRead(RankCounters Counters, long HotBytes, long WarmBytes, DateTimeOffset At);

    async Task<RankRead> ReadAsync(int rank)
    {
        TierControlState state = await TierSet(rank).GetControlStateAsync();
        long hot = state.Experts.Where(e => e.Tier == "hot").Sum(e => e.HotBytes), warm = state.Experts.Where(e => e.Tier == "warm").Sum(e => e.WarmBytes);
        return new RankRead(TierControlViews.Reading(state, []).Counters, hot, warm, time.GetUtcNow());
    }

    /// <summary>
    /// The rank's own view over the controllers' window (its p95 latencies, its token rate); none when its shard has no
    /// view of it (yet).
    /// </summary>
    async Task<TelemetryView?> RankViewAsync(int rank)
    {
        try
        {
            byte[] json = await GrainFactory.GetGrain<IShardAggregatorGrain>(rank % Math.Max(1, telemetry.Value.Shards))
                .GetRankViewAsync(rank.ToString(System.Globalization.CultureInfo.InvariantCulture), TelemetryWindows.Name(_control.LatencyWindow));
            return JsonSerializer.Deserialize<TelemetryView>(json, TelemetryJson.Options);
        }
        catch (Exception e) when (e is ArgumentException or JsonException or OrleansException or TimeoutException)
        {
            return null;
        }
    }

    static IReadOnlyList<RankSample> Samples(CanaryRankSample[] interval) =>
        [.. interval.Select(s => new RankSample(s.Rank, s.Values.ToDictionary(v => CanaryMetrics.Parse(v.Key), v => v.Value)))];

    static CanaryMetricView Figure(MetricJudgement j) => new()
    {
        Metric = CanaryMetrics.Name(j.Metric),
        CanaryMedian = j.CanaryMedian,
        ControlMedian = j.ControlMedian,
        ControlMad = j.ControlMad,
        Threshold = j.Threshold,
        Harm = j.Harm,
        CanaryIntervals = j.CanaryIntervals,
        ControlSamples = j.ControlSamples,
    };

    static Dictionary<string, double> Inputs(IReadOnlyList<MetricJudgement> judged)
    {
        var inputs = new Dictionary<string, double>();
        foreach (MetricJudgement j in judged)
        {
            string name = CanaryMetrics.Name(j.Metric);
            inputs[$"{name}.canary"] = j.CanaryMedian;
            inputs[$"{name}.control"] = j.ControlMedian;
            inputs[$"{name}.mad"] = j.ControlMad;
            inputs[$"{name}.threshold"] = j.Threshold;
            inputs[$"{name}.harm"] = j.Harm;
        }
        return inputs;
    }

    static string Verdict(CanaryVerdict verdict) => verdict switch
    {
        CanaryVerdict.Promote => "promote",
        CanaryVerdict.RollBack => "roll back",
        _ => "continue",
    };

    static string Describe(IReadOnlyDictionary<string, string> tiers, long? hotBudget) =>
        (tiers.Count == 0 ? "no tier moves" : string.Join(", ", tiers.OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key} {t.Value}")))
        + (hotBudget is { } b ? $"; hot budget {b} bytes" : "");

    /// <summary>Each expert's replicas as written, with what they were, e.g. <c>default/0/3 ranks 0,2 (was 1)</c>.</summary>
    static string DescribePlacement(IReadOnlyDictionary<string, int[]> replicas, IReadOnlyDictionary<string, int[]> was) =>
        string.Join(", ", replicas.OrderBy(r => r.Key, StringComparer.Ordinal).Select(r =>
            $"{r.Key} {Ranks(r.Value)} (was {Ranks(was.GetValueOrDefault(r.Key, []))})"));

    static string Ranks(int[] ranks) => ranks.Length == 0 ? "default" : "ranks " + string.Join(",", ranks);

    static string DescribePrefetch(PrefetchSettingsChange change) =>
        string.Join(", ", (change.Lookahead is { } l ? [$"lookahead {l}"] : Array.Empty<string>())
            .Concat(change.Thresholds.OrderBy(t => t.Key).Select(t => $"layer {t.Key} threshold {t.Value:0.###}")));

    ControlDecisionRecord Record(string change, string reason, int? rank, long? version, Dictionary<string, double> inputs, DecisionOutcome outcome = DecisionOutcome.Applied) =>
        DecisionRecords.From(new ControlDecision(time.GetUtcNow(), Controller, rank, inputs, change, reason, outcome), version);

    CanaryStatus Status() => new()
    {
        Model = Model,
        Enabled = Options.Enabled,
        Trial = Trial?.View,
        Recent = [.. saved.State.Recent],
        Intervals = Options.Intervals,
        MinIntervals = Options.MinIntervals,
    };

    static MoeRequestException Invalid(string message) => new(MoeErrorCode.InvalidRequest, message);
}

static partial class CanaryLog
{
    [LoggerMessage(1, LogLevel.Information, "Canary of {Model}: trial {Id} started on rank(s) {Canary} against {Control}: {Change}")]
    public static partial void Started(ILogger logger, string model, long id, string canary, string control, string change);

    [LoggerMessage(2, LogLevel.Information, "Canary of {Model}: trial {Id} interval {Interval}: {Verdict} ({Reason})")]
    public static partial void Judged(ILogger logger, string model, long id, int interval, string verdict, string reason);

    [LoggerMessage(3, LogLevel.Warning, "Canary of {Model}: trial {Id} {Verdict} ({Reason})")]
    public static partial void Ended(ILogger logger, string model, long id, string verdict, string reason);

    [LoggerMessage(4, LogLevel.Warning, "Canary of {Model}: trial {Id} could not read rank {Rank} this interval")]
    public static partial void RankUnread(ILogger logger, string model, long id, int rank, Exception exception);

    [LoggerMessage(5, LogLevel.Information, "Canary of {Model}: trial {Id} resumed after {Intervals} intervals; the next interval takes a new baseline")]
    public static partial void Resumed(ILogger logger, string model, long id, int intervals);
}
