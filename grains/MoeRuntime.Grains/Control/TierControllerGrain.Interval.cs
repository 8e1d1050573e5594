using System.Text.Json;
using Microsoft.Extensions.Logging;
using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Aggregation;
using RankState = MoeRuntime.Control.Planning.RankState;

namespace MoeRuntime.Grains.Control;

// One interval: read every live rank, run the latency then the cost controller through the guardrails, write, record.
public sealed partial class TierControllerGrain
{
    /// <summary>Runs one interval; nothing it meets is thrown out of the timer (logged and shown in the status instead).</summary>
    async Task TickSafelyAsync()
    {
        try
        {
            _lastError = null;
            await RunIntervalAsync();
        }
        catch (Exception e)
        {
            _lastError = e.Message;
            logger.LogWarning(e, "Tier controllers of {Model}: interval {Tick} failed", Model, _ticks);
        }
    }

    async Task RunIntervalAsync()
    {
        DateTimeOffset now = time.GetUtcNow();
        // The interval prices memory held: the time since the last one, or for the first since activation (at most one interval).
        TimeSpan since = now - (_lastTick ?? _activatedAt);
        TimeSpan interval = since <= TimeSpan.Zero ? _options.Interval : _lastTick is null && since > _options.Interval ? _options.Interval : since;
        _lastTick = now;
        _ticks++;
        int[] live = ranks.LiveRanks();
        (ObservedLatency latency, long tokens) = await ReadClusterAsync(interval);
        var records = new List<ControlDecisionRecord>();
        double dollars = 0;
        double? sampleRatio = null;
        foreach (int rank in live)
        {
            try
            {
                (double rankDollars, double? rankSampleRatio) = await ControlRankAsync(rank, now, interval, latency, live.Length == 0 ? 0 : tokens / live.Length, records);
                dollars += rankDollars;
                // Sampling is cluster-wide: the lowest any rank's plan asks for.
                if (rankSampleRatio is { } r) sampleRatio = Math.Min(r, sampleRatio ?? r);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException or ArgumentException or InvalidOperationException)
            {
                _lastError = $"rank {rank}: {e.Message}";
                logger.LogWarning(e, "Tier controllers of {Model}: rank {Rank} skipped this interval", Model, rank);
            }
        }
        _dollarsPerThousandTokens = tokens > 0 ? dollars / tokens * 1000 : null;
        if (sampleRatio is { } ratio) await ChangeSamplingAsync(now, ratio, latency, records);
        if (_options.BalanceEveryIntervals > 0 && _ticks % _options.BalanceEveryIntervals == 0)
            await BalanceAsync(records);
        if (records.Count > 0) await Log.RecordAsync([.. records]);
    }

    /// <summary>The cluster's p95 latencies and the tokens served over the interval; none when the view cannot be read.</summary>
    async Task<(ObservedLatency Latency, long Tokens)> ReadClusterAsync(TimeSpan interval)
    {
        try
        {
            TelemetryView view = await ViewAsync(_options.LatencyWindow);
            NoteStaleRanks(view.Ranks);
            double perSecond = view.Requests.PromptTokensPerSecond + view.Requests.CompletionTokensPerSecond;
            ObservedLatency latency = TelemetryReadings.Latency(view);
            // A short window can hold no latency sample (idle, or sparse sampling of short streams): the minute's then.
            if (latency == ObservedLatency.None && _options.LatencyWindow == "20s")
                latency = TelemetryReadings.Latency(await ViewAsync("1m"));
            return (latency, (long)Math.Round(Math.Max(0, perSecond) * interval.TotalSeconds));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or JsonException or ArgumentException)
        {
            // Without a view the latency controller holds its allowance; operators should know why.
            logger.LogWarning(e, "Tier controllers of {Model}: no cluster view this interval, holding the hot allowance", Model);
            return (ObservedLatency.None, 0);
        }
    }

    /// <summary>
    /// Ranks whose summaries stopped arriving leave the view without their latency and tokens; with every rank stale
    /// the controllers see "no latency" and hold. The status says which, and the log says it once per change.
    /// </summary>
    void NoteStaleRanks(RankCounts ranks)
    {
        string[] stale = [.. ranks.StaleRanks];
        if (stale.Length > 0 && !stale.SequenceEqual(_staleRanks))
            logger.LogWarning("Tier controllers of {Model}: telemetry of rank(s) {Stale} is stale; deciding without it", Model, string.Join(", ", stale));
        _staleRanks = stale;
    }

    async Task<TelemetryView> ViewAsync(string window) =>
        JsonSerializer.Deserialize<TelemetryView>(await GrainFactory.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(window), TelemetryJson.Options)!;

    /// <summary>One rank's interval; returns what the interval cost there in dollars and the telemetry sampling the latency controller asks for.</summary>
    async Task<(double Dollars, double? SampleRatio)> ControlRankAsync(int rank, DateTimeOffset now, TimeSpan interval, ObservedLatency latency, long tokens, List<ControlDecisionRecord> records)
    {
        ITierSetGrain tierSet = TierSet(rank);
        TierControlState state = await EnforcePinsAsync(rank, tierSet, await tierSet.GetControlStateAsync(), records);
        var holdings = state.Experts.Select(e => new ExpertHolding(ExpertKey.Parse(e.Expert), ParseTier(e.Tier), e.HotBytes, e.WarmBytes)).ToList();
        RankInterval delta = RankInterval.Between(_counters.GetValueOrDefault(rank), Counters(state, holdings));
        _counters[rank] = Counters(state, holdings);
        var pins = _pins.ToDictionary(p => p.Key, p => ParseTier(p.Value.Tier));
        // Controllers plan within the ceiling; the TierSet's hot budget is the limit they keep under it.
        long ceiling = state.HotCeilingBytes > 0 ? state.HotCeilingBytes : state.View.HotBudgetBytes;
        RankState before = RankStates.Build(rank, new TierBudgets(ceiling, state.View.WarmBudgetBytes), holdings, delta, pins,
            _options.TransientHeadroomExperts);
        var input = new ControlInput(now, interval, before, delta.WarmFetch, delta.ColdFetch, latency, tokens, _sampling.Ratio);

        long release = (long)Math.Ceiling(_options.Latency.ShrinkStep * ceiling);
        var limit = new HotLimit(state.View.HotBudgetBytes,
            plan => RankStates.HotLimit(RankStates.After(before, plan.Moves), _latency.HotAllowance(rank), ceiling, state.View.HotBudgetBytes, release));
        RankWrite latencyWrite = await DecideAsync(_latency, input, tierSet, state.View.Version, records, limit);
        RankState after = RankStates.After(before, latencyWrite.Moved);
        long version = latencyWrite.Version;
        var report = _cost.Report(input with { Rank = after });
        if (_options.Cost.Enabled && !latencyWrite.Stale)
        {
            RankWrite costWrite = await DecideAsync(_cost, input with { Rank = after }, tierSet, version, records);
            after = RankStates.After(after, costWrite.Moved);
            version = costWrite.Version;
        }
        _ranks[rank] = new RankControlStatus
        {
            Rank = rank,
            TierSetVersion = version,
            HotAllowanceBytes = _latency.HotAllowance(rank),
            HotAssignedBytes = after.BytesUsed(Tier.Hot),
            HotBudgetBytes = ceiling,
            HotLimitBytes = latencyWrite.LimitWritten ?? limit.Current,
            WarmAssignedBytes = after.BytesUsed(Tier.Warm),
            WarmBudgetBytes = state.View.WarmBudgetBytes,
            HitRatio = delta.HitRatio,
            IntervalDollars = report.TotalDollars,
            DollarsPerThousandTokens = report.DollarsPerThousandTokens,
        };
        return (report.TotalDollars, latencyWrite.SampleRatio);
    }

    /// <summary>
    /// Plans, guards and writes one controller's moves; every decision goes to <paramref name="records"/>. A write the
    /// TierSet refuses (a version written meanwhile, budgets changed by a new registration) turns the admitted
    /// decisions into refused ones and ends the rank's interval: the next one plans from fresh state.
    /// </summary>
    async Task<RankWrite> DecideAsync(
        ITierController controller, ControlInput input, ITierSetGrain tierSet, long version, List<ControlDecisionRecord> records, HotLimit? limit = null)
    {
        TierPlan admitted = TierGuardrails.Apply(controller.Plan(input), input.Rank, _options.Guardrails(_dryRun));
        long? nextLimit = limit?.Next(admitted) is { } next && next != limit.Current ? next : null;
        long? writtenLimit = _dryRun ? null : nextLimit;
        if (admitted.Moves.Count == 0 && writtenLimit is null)
        {
            records.AddRange(admitted.Decisions.Select(d => DecisionRecords.From(d, null)));
            if (nextLimit is { } proposed) records.Add(LimitRecord(controller, input, limit!.Current, proposed, null));
            return new RankWrite([], version, false, admitted.RecommendedSampleRatio, null);
        }
        try
        {
            TierSetView written = await tierSet.UpdateAsync(new TierSetUpdate
            {
                Tiers = TierWrites.Tiers(admitted.Moves),
                HotBudgetBytes = writtenLimit,
                HotBudgetIsLimit = writtenLimit is not null,
                ChangedBy = $"controller:{controller.Name}",
                Reason = TierWrites.Reason(admitted) + (writtenLimit is { } w ? $"; hot limit {limit!.Current} → {w} bytes" : ""),
                ExpectedVersion = version,
            });
            records.AddRange(admitted.Decisions.Select(d => DecisionRecords.From(d, written.Version)));
            if (writtenLimit is { } applied) records.Add(LimitRecord(controller, input, limit!.Current, applied, written.Version));
            return new RankWrite(admitted.Moves, written.Version, false, admitted.RecommendedSampleRatio, writtenLimit);
        }
        catch (MoeRequestException e)
        {
            logger.LogInformation("Tier controller {Controller} of {Model} rank {Rank}: not written ({Reason}); next interval plans afresh",
                controller.Name, Model, input.Rank.Rank, e.Message);
            records.AddRange(admitted.Decisions.Select(d => DecisionRecords.From(d.Outcome == DecisionOutcome.Applied
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

    ControlDecisionRecord LimitRecord(ITierController controller, ControlInput input, long from, long to, long? version) => new()
    {
        At = input.At,
        Controller = controller.Name,
        Rank = input.Rank.Rank,
        Inputs = new() { ["hot_limit_bytes"] = from, ["hot_assigned_bytes"] = input.Rank.BytesUsed(Tier.Hot), ["hot_plan_budget_bytes"] = input.Rank.Budgets.HotBytes },
        Change = $"hot limit {from / 1048576.0:F1} → {to / 1048576.0:F1} MiB",
        Reason = to < from
            ? "the hot allowance shrank: hot copies over the new limit are released, not just unassigned"
            : "the hot allowance grew: room for it and for calls to experts not assigned hot",
        Outcome = version is null ? "proposed" : "applied",
        Version = version,
    };

    /// <summary>
    /// Sets the cluster's telemetry sampling to <paramref name="ratio"/> (a new version the ranks pick up), or in a dry run
    /// only proposes it. Lower sampling sheds telemetry work while latency is over target; it comes back once targets hold.
    /// </summary>
    async Task ChangeSamplingAsync(DateTimeOffset now, double ratio, ObservedLatency latency, List<ControlDecisionRecord> records)
    {
        double current = _sampling.Ratio;
        if (ratio == current) return;
        string reason = ratio < current ? "latency over target: shedding telemetry work" : "latency holds with margin: sampling restored";
        long? version = _dryRun ? null : _sampling.Version + 1;
        var inputs = new Dictionary<string, double> { ["sample_ratio"] = current };
        if (latency.P95InterTokenSeconds is { } itl) inputs["p95_itl_s"] = itl;
        if (latency.P95TimeToFirstTokenSeconds is { } ttft) inputs["p95_ttft_s"] = ttft;
        records.Add(new ControlDecisionRecord
        {
            At = now,
            Controller = _latency.Name,
            Inputs = inputs,
            Change = $"telemetry sampling {current:0.###} → {ratio:0.###} of configured (traces, routing re-checks)",
            Reason = reason,
            Outcome = _dryRun ? "proposed" : "applied",
            Version = version,
        });
        if (version is not { } v) return;
        _sampling = new TelemetrySamplingView { Version = v, Ratio = ratio, ChangedBy = $"controller:{_latency.Name}", Reason = reason, At = now };
        await SaveAsync();
        logger.LogInformation("Tier controllers of {Model}: telemetry sampling {From} → {To} ({Reason})", Model, current, ratio, reason);
    }

    /// <summary>Brings pinned experts that sit elsewhere (registered after the pin, or moved by hand) to their pin first.</summary>
    async Task<TierControlState> EnforcePinsAsync(int rank, ITierSetGrain tierSet, TierControlState state, List<ControlDecisionRecord> records)
    {
        bool wrote = false;
        foreach (ExpertControlState expert in state.Experts)
        {
            if (!_pins.TryGetValue(ExpertKey.Parse(expert.Expert), out ExpertPin? pin) || pin.Tier == expert.Tier) continue;
            TierSetView view = await WritePinAsync(tierSet, pin, "kept pinned", state);
            records.Add(Operator($"{pin.Expert} {expert.Tier}→{pin.Tier}", $"pinned by {pin.By}: {pin.Reason}", rank, view.Version));
            wrote = true;
        }
        return wrote ? await tierSet.GetControlStateAsync() : state;
    }

    static RankCounters Counters(TierControlState state, IReadOnlyList<ExpertHolding> holdings) => new(
        state.Hits, state.WarmFetches, state.ColdFetches, state.WarmFetchSeconds, state.ColdFetchSeconds,
        state.WarmFetchedBytes, state.ColdFetchedBytes,
        holdings.Zip(state.Experts).ToDictionary(p => p.First.Key, p => p.Second.Uses));

    async Task BalanceAsync(List<ControlDecisionRecord> records)
    {
        try
        {
            BalanceDecision decision = await GrainFactory.GetGrain<ILoadBalancerGrain>(Model).BalanceAsync(_dryRun);
            records.Add(DecisionRecords.From(decision));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or MoeRequestException)
        {
            logger.LogWarning(e, "Tier controllers of {Model}: balancing failed this interval", Model);
        }
    }
}
