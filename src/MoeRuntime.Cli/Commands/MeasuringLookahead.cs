using MoeRuntime.Control.Prefetch;
using MoeRuntime.Model.Layers;

namespace MoeRuntime.Cli.Commands;

/// <summary>
/// Pre-gating in one process with nothing to fetch: predicts <paramref name="ahead"/> layers ahead with every top-k choice
/// (threshold 0, the runtime's default) and scores each prediction (<see cref="PregatingTally"/>), as a router rank does.
/// </summary>
sealed class MeasuringLookahead(PregatingTally tally, int ahead) : IExpertLookahead
{
    int _from = -1;
    int[] _chosen = [];

    public int LayersAhead(int layer)
    {
        _from = layer;
        return ahead;
    }

    public float Threshold(int layer) => 0;

    public void Predicted(int layer, ReadOnlySpan<long> experts) => tally.Predicted(_from, layer, experts);

    public void Chosen(int layer, RoutingPlan plan)
    {
        if (_chosen.Length < plan.ExpertCount) _chosen = new int[plan.ExpertCount];
        int n = 0;
        for (int e = 0; e < plan.ExpertCount; e++)
            if (plan.TokenCountFor(e) > 0) _chosen[n++] = e;
        tally.Chosen(layer, _chosen.AsSpan(0, n));
    }
}
