namespace MoeRuntime.Control.Planning;

/// <summary>One <see cref="DemandTracker"/> per rank, made on the rank's first interval: the demand a controller keeps.</summary>
public sealed class RankDemand(double halfLifeIntervals)
{
    readonly Dictionary<int, DemandTracker> _trackers = [];

    /// <summary>Folds the rank's interval into its demand (call once per interval) and returns the rank's tracker.</summary>
    public DemandTracker Observe(RankState rank)
    {
        ArgumentNullException.ThrowIfNull(rank);
        if (!_trackers.TryGetValue(rank.Rank, out DemandTracker? demand))
            _trackers[rank.Rank] = demand = new DemandTracker(halfLifeIntervals);
        demand.Observe(rank.Experts);
        return demand;
    }
}
