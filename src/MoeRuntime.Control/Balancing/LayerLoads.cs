namespace MoeRuntime.Control.Balancing;

/// <summary>
/// Load per layer and rank. A step dispatches layer by layer and each layer waits for its busiest rank, so what
/// imbalance costs a step is the sum over layers of the busiest rank's load, not the busiest rank's total: two ranks
/// can carry equal totals while every layer waits on one of them.
/// </summary>
public sealed class LayerLoads
{
    readonly int[] _ranks;
    readonly Dictionary<int, int> _slot;
    readonly SortedDictionary<int, double[]> _layers = [];

    public LayerLoads(int[] ranks)
    {
        _ranks = ranks;
        _slot = ranks.Select((r, i) => (r, i)).ToDictionary(p => p.r, p => p.i);
    }

    public double this[int layer, int rank] => _layers.TryGetValue(layer, out double[]? loads) ? loads[_slot[rank]] : 0;

    public void Add(int layer, int rank, double tokens)
    {
        if (!_layers.TryGetValue(layer, out double[]? loads)) _layers[layer] = loads = new double[_ranks.Length];
        loads[_slot[rank]] += tokens;
    }

    /// <summary>Moves an expert's load from its old replicas to its new ones (split evenly over each set).</summary>
    public void Shift(ExpertMove move)
    {
        if (!_layers.TryGetValue(move.Expert.Layer, out double[]? loads)) _layers[move.Expert.Layer] = loads = new double[_ranks.Length];
        Spread(loads, move);
    }

    /// <summary>The move applied to one layer's loads by rank position.</summary>
    void Spread(Span<double> loads, ExpertMove move)
    {
        foreach (int r in move.From) loads[_slot[r]] -= move.Tokens / move.From.Length;
        foreach (int r in move.To) loads[_slot[r]] += move.Tokens / move.To.Length;
    }

    /// <summary>The sum over layers of the busiest rank's load: what a step waits for.</summary>
    public double BusiestSum => _layers.Values.Sum(l => l.Max());

    /// <summary>The sum over layers and ranks of the squared load: the spread under the busiest ranks.</summary>
    public double SumOfSquares => _layers.Values.Sum(l => l.Sum(x => x * x));

    /// <summary>
    /// Per layer, the busiest rank's load over the mean rank load, weighted by the layers' loads (Σ busiest / Σ mean):
    /// how much longer a step takes than with every layer balanced. 1 when balanced or without load.
    /// </summary>
    public double Imbalance
    {
        get
        {
            double mean = _layers.Values.Sum(l => l.Sum()) / _ranks.Length;
            return mean <= 0 ? 1 : BusiestSum / mean;
        }
    }

    /// <summary>
    /// How <see cref="BusiestSum"/> and <see cref="SumOfSquares"/> would change if <paramref name="moves"/> (all of one
    /// layer) were shifted; only that layer is recomputed.
    /// </summary>
    public (double Busiest, double Squares) Change(ReadOnlySpan<ExpertMove> moves)
    {
        int layer = moves[0].Expert.Layer;
        double[] now = _layers.TryGetValue(layer, out double[]? loads) ? loads : new double[_ranks.Length];
        Span<double> next = stackalloc double[_ranks.Length];
        now.CopyTo(next);
        foreach (ExpertMove move in moves)
        {
            if (move.Expert.Layer != layer) throw new ArgumentException("the moves are not all of one layer", nameof(moves));
            Spread(next, move);
        }
        double busiest = 0, busiestNow = 0, squares = 0;
        for (int i = 0; i < next.Length; i++)
        {
            busiest = Math.Max(busiest, next[i]);
            busiestNow = Math.Max(busiestNow, now[i]);
            squares += next[i] * next[i] - now[i] * now[i];
        }
        return (busiest - busiestNow, squares);
    }
}

/// <summary>An expert's replicas going from one set of ranks to another, with the tokens it carries.</summary>
public readonly record struct ExpertMove(ExpertId Expert, double Tokens, int[] From, int[] To);
