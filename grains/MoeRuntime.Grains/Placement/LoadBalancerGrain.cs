using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Balancing;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Aggregation;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// The balancing controller of one model, callable on demand: measured expert load from the cluster
/// aggregator's view, the placement map, the balancer's plan (<see cref="ExpertBalancer"/>), and — unless it
/// is a dry run — the plan written to the map. Each call is kept as a decision with its inputs.
/// </summary>
public sealed class LoadBalancerGrain(ModelHost host, RankDirectory ranks, IOptions<MoeSiloOptions> options, TimeProvider time, ILogger<LoadBalancerGrain> logger)
    : Grain, ILoadBalancerGrain
{
    public const string Controller = "balancer";
    const int KeptDecisions = 100;
    readonly List<BalanceDecision> _decisions = [];
    /// <summary>Each router rank's cumulative rows at the previous balancing that read them (locality on).</summary>
    readonly Dictionary<int, long[]> _demandRead = [];

    public async Task<BalanceDecision> BalanceAsync(bool dryRun)
    {
        string model = this.GetPrimaryKeyString();
        host.EnsureServes(model);
        BalancingOptions o = options.Value.Balancing;
        int[] live = ranks.LiveRanks();
        if (live.Length == 0) throw new MoeRequestException(MoeErrorCode.InvalidRequest, "no active rank to balance over");

        byte[] json = await GrainFactory.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(TelemetryWindows.Name(o.LoadWindow));
        TelemetryView view = JsonSerializer.Deserialize<TelemetryView>(json, TelemetryJson.Options)!;
        IExpertPlacementGrain map = GrainFactory.GetGrain<IExpertPlacementGrain>(model);
        ICanaryGrain canary = GrainFactory.GetGrain<ICanaryGrain>(model);
        // A placement trial under way owns the map until it ends: balancing now would rebalance the canary away.
        string? held = null;
        try
        {
            if ((await canary.GetStatusAsync()).Trial is { Kind: CanaryKinds.Placement } trial)
                held = $"placement canary trial {trial.Id} is under way; balancing waits for it to end";
        }
        catch (Exception e) when (e is OrleansException or TimeoutException)
        {
            held = $"the canary grain could not be asked whether a placement trial is under way ({e.Message})";
        }
        PlacementMapView current = await map.GetAsync();
        BalancerInput input = BalancerMapping.From(view, current, live, host.Config, o);
        Dictionary<int, long[]>? demandNow = null;
        if (o.LocalExpertsPerLayer > 0)
        {
            demandNow = await ReadRouterDemandAsync(model, live);
            input = input with { RouterDemand = BalancerMapping.RouterDemand(demandNow, _demandRead, host.Config), LocalExpertsPerLayer = o.LocalExpertsPerLayer };
        }
        // Planning is CPU work that grows with the model (about 1.6 s for 58 layers x 256 experts on 64 ranks): off the
        // silo's scheduler, which the expert grains need meanwhile.
        PlacementPlan plan = await Task.Run(() => ExpertBalancer.Plan(input));

        long version = current.Version;
        bool apply = plan.Changed && !dryRun && held is null;
        string reason = plan.Changed && !dryRun && held is not null ? $"{plan.Reason}; not written: {held}" : plan.Reason;
        long? trialId = null;
        // A lone rank has nothing to judge a trial against, and with trials off there is no one to judge it: written directly.
        if (apply && options.Value.Control.Canary is { Enabled: true, PlacementTrials: true } && live.Length > 1)
        {
            PlacementMapUpdate update = BalancerMapping.ToUpdate(plan, current, live, host.Config);
            CanaryPlanOutcome outcome = await canary.SubmitPlacementAsync(new CanaryPlacementPlan
            {
                Replicas = update.Replicas,
                ExpectedVersion = current.Version,
                By = Controller,
                Reason = plan.Reason,
                Changes = update.Changes,
            });
            if (outcome.TrialId is { } id)
            {
                trialId = id;
                version = outcome.Version;
                reason = $"{plan.Reason}; tried first as canary trial {id} on the canary ranks' routers";
            }
            else
            {
                apply = false;
                reason = $"{plan.Reason}; not written: the canary refused the placement trial ({outcome.Refusal})";
            }
        }
        else if (apply) version = (await map.ApplyAsync(BalancerMapping.ToUpdate(plan, current, live, host.Config))).Version;
        // A dry run leaves the window of demand open: the next real balancing sees the same rows and more.
        if (demandNow is not null && apply)
            foreach (var (rank, rows) in demandNow) _demandRead[rank] = rows;
        var decision = new BalanceDecision
        {
            At = time.GetUtcNow(),
            Controller = Controller,
            DryRun = dryRun,
            Applied = apply,
            Reason = reason,
            Inputs = new BalanceDecisionInputs
            {
                Window = TelemetryWindows.Name(o.LoadWindow),
                LiveRanks = live,
                ExpertLoad = BalancerMapping.ExpertLoad(input, model),
                RankLoad = plan.RankLoadBefore.ToDictionary(),
                Threshold = input.Threshold,
                SlotsPerRank = input.SlotsPerRank,
                MaxChanges = input.MaxChanges,
                MapVersion = current.Version,
                LocalExpertsPerLayer = input.LocalExpertsPerLayer,
                RouterRows = BalancerMapping.RouterRows(input, model),
            },
            Changes = plan.Changes.Select(c => c.ToString()).ToArray(),
            RankLoadAfter = plan.RankLoadAfter.ToDictionary(),
            ImbalanceBefore = plan.ImbalanceBefore,
            ImbalanceAfter = plan.ImbalanceAfter,
            MapVersion = version,
            RemoteRowsBefore = plan.RemoteRowsBefore,
            RemoteRowsAfter = plan.RemoteRowsAfter,
            CanaryTrial = trialId,
        };
        _decisions.Add(decision);
        if (_decisions.Count > KeptDecisions) _decisions.RemoveAt(0);
        logger.LogInformation("Balancer {Model} ({Mode}): {Reason}; {Changes} changes, map v{Version}",
            model, dryRun ? "dry run" : apply ? "applied" : "kept", reason, plan.Changes.Count, version);
        return decision;
    }

    /// <summary>Each live rank's cumulative router rows; a rank that cannot be asked is left out (its router's demand is not used).</summary>
    async Task<Dictionary<int, long[]>> ReadRouterDemandAsync(string model, int[] live)
    {
        var read = await Task.WhenAll(live.Select(async rank =>
        {
            try
            {
                return (rank, rows: await GrainFactory.GetGrain<IRouterDemandGrain>(Experts.GrainKeys.Rank(model, rank)).GetRowsAsync());
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                logger.LogWarning("Balancer {Model}: could not read the router demand of rank {Rank} ({Error}); locality leaves it out", model, rank, e.Message);
                return (rank, rows: (long[]?)null);
            }
        }));
        return read.Where(r => r.rows is not null).ToDictionary(r => r.rank, r => r.rows!);
    }

    public Task<BalanceDecision[]> GetDecisionsAsync(int maxDecisions) =>
        Task.FromResult(_decisions.TakeLast(Math.Clamp(maxDecisions, 1, KeptDecisions)).Reverse().ToArray());
}
