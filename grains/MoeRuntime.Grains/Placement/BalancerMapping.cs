using MoeRuntime.Control.Balancing;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Serving.Placement;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// Translates between the cluster's words (telemetry views, the placement map's expert keys and rank lists)
/// and the balancer's, so the balancing grain stays a few calls long.
/// </summary>
static class BalancerMapping
{
    /// <summary>The balancer's input: hits per expert over the window, and every expert's live replicas (its round-robin owner when the map names none).</summary>
    public static BalancerInput From(TelemetryView view, PlacementMapView map, int[] live, ModelConfig config, BalancingOptions options)
    {
        var load = new Dictionary<ExpertId, double>();
        foreach (LayerExperts layer in view.Experts)
            for (int e = 0; e < layer.Hits.Count && e < config.ExpertCount; e++)
                if (layer.Hits[e] > 0 && layer.Layer < config.LayerCount) load[new ExpertId(layer.Layer, e)] = layer.Hits[e];
        var placement = new Dictionary<ExpertId, IReadOnlyList<int>>();
        for (int l = 0; l < config.LayerCount; l++)
            for (int e = 0; e < config.ExpertCount; e++)
            {
                int[] named = map.Replicas.GetValueOrDefault(GrainKeys.Expert(map.Model, l, e), []).Where(live.Contains).ToArray();
                placement[new ExpertId(l, e)] = named.Length > 0 ? named : [ExpertOwnership.OwnerOf(l, e, config.ExpertCount, live)];
            }
        int experts = config.LayerCount * config.ExpertCount;
        return new BalancerInput
        {
            Load = load,
            Placement = placement,
            LiveRanks = live,
            SlotsPerRank = (experts + live.Length - 1) / live.Length + options.ExtraReplicaSlotsPerRank,
            Threshold = options.Threshold,
            MaxChanges = options.MaxChanges,
        };
    }

    /// <summary>The map change that applies a plan; an expert back on its round-robin owner alone leaves the map.</summary>
    public static PlacementMapUpdate ToUpdate(PlacementPlan plan, PlacementMapView map, int[] live, ModelConfig config) => new()
    {
        Replicas = plan.ChangedReplicas.ToDictionary(
            p => GrainKeys.Expert(map.Model, p.Key.Layer, p.Key.Expert),
            p => p.Value is [var only] && only == ExpertOwnership.OwnerOf(p.Key.Layer, p.Key.Expert, config.ExpertCount, live) ? [] : p.Value),
        ChangedBy = "balancer",
        Reason = plan.Reason,
        ExpectedVersion = map.Version,
        Changes = plan.Changes.Select(c => c.ToString()).ToArray(),
    };

    /// <summary>
    /// Rows per router rank and expert since the counts read at the previous balancing (everything so far the first time,
    /// and after a silo restart, when its counts went backwards).
    /// </summary>
    public static Dictionary<int, IReadOnlyDictionary<ExpertId, double>> RouterDemand(Dictionary<int, long[]> now, Dictionary<int, long[]> previous, ModelConfig config)
    {
        var demand = new Dictionary<int, IReadOnlyDictionary<ExpertId, double>>();
        foreach (var (rank, rows) in now)
        {
            if (rows.Length != config.LayerCount * config.ExpertCount) continue;
            long[]? before = previous.GetValueOrDefault(rank);
            if (before is not null && (before.Length != rows.Length || rows.Where((r, i) => r < before[i]).Any())) before = null;
            var experts = new Dictionary<ExpertId, double>();
            for (int i = 0; i < rows.Length; i++)
                if (rows[i] - (before?[i] ?? 0) is > 0 and var delta) experts[new ExpertId(i / config.ExpertCount, i % config.ExpertCount)] = delta;
            demand[rank] = experts;
        }
        return demand;
    }

    public static Dictionary<int, Dictionary<string, long>> RouterRows(BalancerInput input, string model) =>
        (input.RouterDemand ?? new Dictionary<int, IReadOnlyDictionary<ExpertId, double>>()).OrderBy(d => d.Key).ToDictionary(d => d.Key,
            d => d.Value.OrderBy(r => r.Key).ToDictionary(r => GrainKeys.Expert(model, r.Key.Layer, r.Key.Expert), r => (long)r.Value));

    public static Dictionary<string, long> ExpertLoad(BalancerInput input, string model) =>
        input.Load.OrderBy(l => l.Key).ToDictionary(l => GrainKeys.Expert(model, l.Key.Layer, l.Key.Expert), l => (long)l.Value);
}
