namespace MoeRuntime.Control.Replay;

/// <summary>
/// Least frequently used with forgetting: each expert's score is its uses weighted by 2^(−age / half-life), age counted
/// in the layer's accesses, so recent popularity counts and old popularity fades; ties go to the least recently used.
/// Of the online eviction rules tried on the published Mixtral traces (decayed LFU, a step-to-step transition model,
/// reuse probability by time since last use; see docs/routing-traces.md), it is the one reported next to Belady.
/// </summary>
public sealed class DecayedLfuPolicy : ReplayPolicy
{
    readonly double _halfLife;
    double[] _score = [];
    long[] _scoredAt = [];
    long[] _last = [];
    long _clock;

    /// <param name="halfLifeAccesses">Accesses of a layer after which a use weighs half (positive, finite).</param>
    public DecayedLfuPolicy(double halfLifeAccesses = DefaultHalfLifeAccesses)
    {
        if (!(halfLifeAccesses > 0) || double.IsInfinity(halfLifeAccesses))
            throw new ArgumentException($"the decayed-LFU half-life must be a positive number of accesses, was {halfLifeAccesses}", nameof(halfLifeAccesses));
        _halfLife = halfLifeAccesses;
    }

    /// <summary>The default half-life: 32 accesses of a layer (16 decode steps of a top-2 model).</summary>
    public const double DefaultHalfLifeAccesses = 32;

    public override string Name => "Decayed LFU";

    public override void Start(ReplaySetup setup)
    {
        base.Start(setup);
        int cells = setup.Trace.Layers * setup.Trace.Experts;
        _score = new double[cells];
        _scoredAt = new long[cells];
        _last = new long[cells];
        _clock = 0;
    }

    public override void Inserted(int layer, int expert, long time, InsertReason reason) => _last[layer * Experts + expert] = ++_clock;

    public override void Accessed(int layer, int expert, long time, bool hit)
    {
        int at = layer * Experts + expert;
        _score[at] = Score(at, time) + 1;
        _scoredAt[at] = time;
        _last[at] = ++_clock;
    }

    public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time)
    {
        int victim = candidates[0];
        double worst = Score(layer * Experts + victim, time);
        foreach (int e in candidates)
        {
            int a = layer * Experts + e;
            double s = Score(a, time);
            if (s < worst || (s == worst && _last[a] < _last[layer * Experts + victim]))
            {
                victim = e;
                worst = s;
            }
        }
        return victim;
    }

    double Score(int at, long time) => _score[at] * Math.Pow(0.5, Math.Max(0, time - _scoredAt[at]) / _halfLife);
}
