namespace MoeRuntime.Control.Replay;

/// <summary>
/// Least frequently used, counting every use since the replay started (counts survive eviction, so an
/// expert's popularity is remembered); ties go to the least recently used.
/// </summary>
public sealed class LfuPolicy : ReplayPolicy
{
    long[] _uses = [];
    long[] _last = [];
    long _clock;

    public override string Name => "LFU";

    public override void Start(ReplaySetup setup)
    {
        base.Start(setup);
        _uses = new long[setup.Trace.Layers * setup.Trace.Experts];
        _last = new long[_uses.Length];
        _clock = 0;
    }

    public override void Inserted(int layer, int expert, long time, InsertReason reason) => _last[layer * Experts + expert] = ++_clock;

    public override void Accessed(int layer, int expert, long time, bool hit)
    {
        int at = layer * Experts + expert;
        _uses[at]++;
        _last[at] = ++_clock;
    }

    public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time)
    {
        int victim = candidates[0];
        foreach (int e in candidates)
        {
            int a = layer * Experts + e, b = layer * Experts + victim;
            if (_uses[a] < _uses[b] || (_uses[a] == _uses[b] && _last[a] < _last[b])) victim = e;
        }
        return victim;
    }
}
