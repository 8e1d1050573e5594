namespace MoeRuntime.Control.Planning;

/// <summary>One <see cref="DemandTracker"/> per rank, made on the rank's first interval: the demand a controller keeps.</summary>
public sealed class RankDemand
{
    readonly Dictionary<int, DemandTracker> _trackers = [];

    /// <exception cref="ArgumentException">The half-life is not a positive finite number of intervals.</exception>
    public RankDemand(double halfLifeIntervals) => UseHalfLife(halfLifeIntervals);

    /// <summary>The half-life every rank's demand decays at from its next interval.</summary>
    public double HalfLifeIntervals { get; private set; }

    /// <summary>Decays every rank's demand at <paramref name="halfLifeIntervals"/> from its next interval, keeping what was learnt.</summary>
    /// <exception cref="ArgumentException">The half-life is not a positive finite number of intervals.</exception>
    public void UseHalfLife(double halfLifeIntervals)
    {
        if (!(halfLifeIntervals > 0) || double.IsInfinity(halfLifeIntervals))
            throw new ArgumentException($"the demand half-life must be a positive number of intervals, was {halfLifeIntervals}", nameof(halfLifeIntervals));
        HalfLifeIntervals = halfLifeIntervals;
        foreach (DemandTracker tracker in _trackers.Values) tracker.UseHalfLife(halfLifeIntervals);
    }

    /// <summary>Folds the rank's interval into its demand (call once per interval) and returns the rank's tracker.</summary>
    /// <param name="fold">False leaves the demand as it was (an idle interval): only a rank seen for the first time gets a tracker.</param>
    public DemandTracker Observe(RankState rank, bool fold = true)
    {
        ArgumentNullException.ThrowIfNull(rank);
        if (!_trackers.TryGetValue(rank.Rank, out DemandTracker? demand))
            _trackers[rank.Rank] = demand = new DemandTracker(HalfLifeIntervals);
        if (fold) demand.Observe(rank.Experts);
        return demand;
    }
}
