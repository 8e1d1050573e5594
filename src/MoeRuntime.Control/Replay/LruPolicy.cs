namespace MoeRuntime.Control.Replay;

/// <summary>Least recently used: evicts the hot expert whose last use (or arrival) is oldest.</summary>
public sealed class LruPolicy : ReplayPolicy
{
    long[] _last = [];
    long _clock;

    public override string Name => "LRU";

    public override void Start(ReplaySetup setup)
    {
        base.Start(setup);
        _last = new long[setup.Trace.Layers * setup.Trace.Experts];
        _clock = 0;
    }

    public override void Inserted(int layer, int expert, long time, InsertReason reason) => _last[layer * Experts + expert] = ++_clock;
    public override void Accessed(int layer, int expert, long time, bool hit) => _last[layer * Experts + expert] = ++_clock;

    public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time)
    {
        int victim = candidates[0];
        foreach (int e in candidates)
            if (_last[layer * Experts + e] < _last[layer * Experts + victim]) victim = e;
        return victim;
    }
}
