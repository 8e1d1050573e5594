namespace MoeRuntime.Control.Replay;

/// <summary>
/// Belady's MIN: evicts the hot expert whose next use lies farthest in the future (never used again
/// counts as infinitely far). With demand fetching it misses least of all policies, so it is the bound
/// the online policies are measured against. Next uses are precomputed in one backward pass per layer
/// (O(accesses)); a victim costs one pass over the candidates.
/// </summary>
public sealed class BeladyPolicy : ReplayPolicy
{
    int[][] _nextUse = [];
    int[] _next = [];

    public override string Name => "Belady";

    public override void Start(ReplaySetup setup)
    {
        base.Start(setup);
        ReplayTrace trace = setup.Trace;
        int layers = trace.Layers, experts = trace.Experts;
        var counts = new int[layers];
        for (int s = 0; s < trace.Steps; s++)
            for (int l = 0; l < layers; l++) counts[l] += trace.Needed(s, l).Length;
        _nextUse = new int[layers][];
        _next = new int[layers * experts];
        Array.Fill(_next, int.MaxValue);
        for (int l = 0; l < layers; l++)
        {
            int[] next = _nextUse[l] = new int[counts[l]];
            int t = counts[l];
            Span<int> seen = _next.AsSpan(l * experts, experts);
            for (int s = trace.Steps - 1; s >= 0; s--)
            {
                ReadOnlySpan<int> needed = trace.Needed(s, l);
                for (int i = needed.Length - 1; i >= 0; i--)
                {
                    t--;
                    next[t] = seen[needed[i]];
                    seen[needed[i]] = t;
                }
            }
            // seen now holds each expert's first use: the next use as the replay starts.
        }
    }

    public override void Accessed(int layer, int expert, long time, bool hit) => _next[layer * Experts + expert] = _nextUse[layer][time];

    public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time)
    {
        int victim = candidates[0];
        foreach (int e in candidates)
            if (_next[layer * Experts + e] > _next[layer * Experts + victim]) victim = e;
        return victim;
    }
}
