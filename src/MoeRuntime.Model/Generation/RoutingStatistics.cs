using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Generation;

/// <summary>
/// How a model routes a stream of tokens: hits per layer and expert, imbalance (max/mean), and how many
/// of a token's experts the next token reuses — the properties that make expert tiering worthwhile.
/// </summary>
public sealed class RoutingStatistics
{
    readonly long[,] _hits;
    readonly long[] _reused;
    readonly long[] _pairs;
    readonly int[][] _previous;
    readonly int _topK;

    public RoutingStatistics(int layers, int experts, int topK)
    {
        _hits = new long[layers, experts];
        _reused = new long[layers];
        _pairs = new long[layers];
        _previous = new int[layers][];
        _topK = topK;
    }

    /// <summary>Prefills <paramref name="tokens"/> as one sequence and collects every layer's routing.</summary>
    public static RoutingStatistics Measure(MoeModel model, int[] tokens)
    {
        var stats = new RoutingStatistics(model.Config.LayerCount, model.Config.ExpertCount, model.Config.ExpertsPerToken);
        using KvCache cache = model.CreateCache();
        using var scope = NewDisposeScope();
        model.Forward([new SequenceStep(cache, tokens)], observe: stats.Observe);
        return stats;
    }

    public int LayerCount => _hits.GetLength(0);
    public int ExpertCount => _hits.GetLength(1);

    /// <summary>Adds one layer's plan for consecutive tokens of one sequence.</summary>
    public void Observe(int layer, RoutingPlan plan)
    {
        for (int t = 0; t < plan.TokenCount; t++)
        {
            int[] chosen = new int[_topK];
            for (int s = 0; s < _topK; s++)
            {
                chosen[s] = plan.ChosenExperts[t * _topK + s];
                _hits[layer, chosen[s]]++;
            }
            if (_previous[layer] is { } previous)
            {
                _reused[layer] += chosen.Count(previous.Contains);
                _pairs[layer]++;
            }
            _previous[layer] = chosen;
        }
    }

    public long Hits(int layer, int expert) => _hits[layer, expert];

    /// <summary>Share of the layer's assignments taken by its <paramref name="top"/> busiest experts.</summary>
    public double TopShare(int layer, int top) =>
        Enumerable.Range(0, ExpertCount).Select(e => _hits[layer, e]).OrderDescending().Take(top).Sum() / (double)LayerTotal(layer);

    /// <summary>Busiest expert's hits over the mean.</summary>
    public double Imbalance(int layer) =>
        Enumerable.Range(0, ExpertCount).Max(e => _hits[layer, e]) / ((double)LayerTotal(layer) / ExpertCount);

    /// <summary>Mean share of a token's experts that the previous token also used.</summary>
    public double Reuse(int layer) => _pairs[layer] == 0 ? 0 : _reused[layer] / (double)(_pairs[layer] * _topK);

    long LayerTotal(int layer) => Enumerable.Range(0, ExpertCount).Sum(e => _hits[layer, e]);
}
