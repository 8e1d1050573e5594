using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>
/// Each expert's demand: its uses per interval, exponentially decayed so that a shift in the prompt mix shows within
/// a few half-lives while one noisy interval does not reorder the ranking. One tracker per rank; its state is one
/// number per expert, exported by <see cref="Demand"/> and restored through the constructor.
/// </summary>
public sealed class DemandTracker
{
    readonly Dictionary<ExpertKey, double> _demand = [];
    double _retained;

    /// <param name="halfLifeIntervals">Intervals after which an interval's uses weigh half as much.</param>
    /// <param name="restored">Demand exported by an earlier tracker (for example before a controller grain moved).</param>
    public DemandTracker(double halfLifeIntervals, IReadOnlyDictionary<ExpertKey, double>? restored = null)
    {
        UseHalfLife(halfLifeIntervals);
        if (restored is not null)
            foreach (var (key, demand) in restored)
                _demand[key] = demand >= 0 ? demand : throw new ArgumentException($"restored demand of {key} is negative", nameof(restored));
    }

    /// <summary>Intervals after which an interval's uses weigh half as much, from the next <see cref="Observe"/> on.</summary>
    public double HalfLifeIntervals { get; private set; }

    /// <summary>
    /// Decays from the next interval on at <paramref name="halfLifeIntervals"/>; the demand learnt so far is kept (the
    /// controllers shorten it while routing drifts).
    /// </summary>
    /// <exception cref="ArgumentException">The half-life is not a positive finite number of intervals.</exception>
    public void UseHalfLife(double halfLifeIntervals)
    {
        if (!(halfLifeIntervals > 0) || double.IsInfinity(halfLifeIntervals))
            throw new ArgumentException($"the demand half-life must be a positive number of intervals, was {halfLifeIntervals}", nameof(halfLifeIntervals));
        HalfLifeIntervals = halfLifeIntervals;
        _retained = Math.Pow(0.5, 1 / halfLifeIntervals);
    }

    /// <summary>Expected uses per interval of every expert seen in the last observed interval.</summary>
    public IReadOnlyDictionary<ExpertKey, double> Demand => _demand;

    /// <summary>The expert's expected uses per interval; zero for an expert never used.</summary>
    public double Of(ExpertKey key) => _demand.GetValueOrDefault(key);

    /// <summary>
    /// Folds one interval's uses in: demand ← r·demand + (1 − r)·uses with r = 2^(−1/half-life). Call once per interval.
    /// Experts no longer on the rank are forgotten.
    /// </summary>
    public void Observe(IReadOnlyList<ExpertState> experts)
    {
        ArgumentNullException.ThrowIfNull(experts);
        var present = new HashSet<ExpertKey>(experts.Count);
        foreach (ExpertState expert in experts)
        {
            present.Add(expert.Key);
            _demand[expert.Key] = _retained * _demand.GetValueOrDefault(expert.Key) + (1 - _retained) * expert.Uses;
        }
        foreach (ExpertKey gone in _demand.Keys.Where(k => !present.Contains(k)).ToList())
            _demand.Remove(gone);
    }
}
