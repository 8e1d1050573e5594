using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// The rank's copy of its model's placement map, for the router. Reading it is a field read; refreshing is
/// one grain call at most every <see cref="BalancingOptions.MapRefreshInterval"/>, started by the step that
/// finds it due and never awaited by it, so no step waits on the map.
/// </summary>
public sealed class PlacementMapCache
{
    readonly IGrainFactory _grains;
    readonly ModelHost _host;
    readonly ILogger<PlacementMapCache> _logger;
    readonly BackgroundRefresh _refresh;
    readonly bool _preferLocal;
    volatile ReplicaRoutes _current;

    public PlacementMapCache(IGrainFactory grains, ModelHost host, IOptions<MoeSiloOptions> options, RouterDemand demand, ILogger<PlacementMapCache> logger)
    {
        _grains = grains;
        _host = host;
        _logger = logger;
        _preferLocal = options.Value.Balancing.LocalExpertsPerLayer > 0;
        Demand = demand;
        _current = ReplicaRoutes.Default(host.Config.LayerCount, host.Config.ExpertCount);
        _refresh = new BackgroundRefresh(options.Value.Balancing.MapRefreshInterval, RefreshAsync, e =>
            logger.LogWarning("Could not refresh the placement map of {Model} (keeping v{Version}): {Error}", host.ModelName, _current.Version, e.Message));
    }

    public ReplicaRoutes Current => _current;

    /// <summary>The rows this rank's router sends each expert, which the router counts every layer step.</summary>
    public RouterDemand Demand { get; }

    /// <summary>Starts a refresh in the background when one is due and none is running.</summary>
    public void RefreshIfDue() => _refresh.IfDue();

    /// <summary>Fetches the map if its version changed and swaps the routes in.</summary>
    public async Task RefreshAsync()
    {
        PlacementMapView? view = await _grains.GetGrain<IExpertPlacementGrain>(_host.ModelName).GetIfChangedAsync(_current.Version).ConfigureAwait(false);
        if (view is null) return;
        var routes = ReplicaRoutes.Default(_host.Config.LayerCount, _host.Config.ExpertCount) with
        {
            Version = view.Version,
            Here = _preferLocal ? new bool[_host.Config.LayerCount * _host.Config.ExpertCount] : null,
        };
        foreach (string key in view.KeysFor(_host.Rank))
        {
            int[] ranks = view.ReplicasFor(key, _host.Rank);
            var (expert, _) = GrainKeys.ParseExpert(key);
            if (ranks.Length == 0 || (uint)expert.Layer >= (uint)_host.Config.LayerCount || (uint)expert.Expert >= (uint)_host.Config.ExpertCount) continue;
            int slot = expert.Layer * _host.Config.ExpertCount + expert.Expert;
            routes.Keys[slot] = ranks.Select(r => GrainKeys.Replica(_host.ModelName, expert.Layer, expert.Expert, r)).ToArray();
            if (routes.Here is { } here) here[slot] = ranks.Contains(_host.Rank);
        }
        _current = routes;
        _logger.LogInformation("Router of rank {Rank} uses placement map v{Version} of {Model}: {Replicated} experts on replicas", _host.Rank, view.Version, _host.ModelName, view.Replicas.Count);
    }
}

/// <summary>
/// One version of the map as the router needs it: for each (layer, expert) the grain keys of its replicas,
/// or null for an expert on its default grain (the common case, which then costs nothing extra); with locality on
/// (<see cref="BalancingOptions.LocalExpertsPerLayer"/>), which replicated experts have a replica on this rank.
/// </summary>
public sealed record ReplicaRoutes(long Version, int ExpertsPerLayer, string[]?[] Keys)
{
    public static ReplicaRoutes Default(int layers, int expertsPerLayer) => new(0, expertsPerLayer, new string[]?[layers * expertsPerLayer]);

    /// <summary>Per (layer, expert), whether a replica is on this rank; null when locality is off.</summary>
    public bool[]? Here { get; init; }

    public string[]? For(int layer, int expert) => Keys[layer * ExpertsPerLayer + expert];

    /// <summary>
    /// Whether the router computes this replicated expert in-process (locality on and a replica on this rank) rather than
    /// spreading its rows over the replicas.
    /// </summary>
    public bool ComputedHere(int layer, int expert) => Here is { } here && here[layer * ExpertsPerLayer + expert];
}
