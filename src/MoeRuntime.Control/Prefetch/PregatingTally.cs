using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Control.Prefetch;

/// <summary>Told each scored prediction: layer, lookahead and the expert slots predicted, chosen and both.</summary>
public interface IPregatingRecorder
{
    /// <param name="layer">The layer whose experts were predicted and then chosen.</param>
    /// <param name="lookahead">How many layers before <paramref name="layer"/> the prediction was made (1 = the layer just before).</param>
    /// <param name="predicted">Distinct experts the prediction named.</param>
    /// <param name="actual">Distinct experts the layer's gate then chose.</param>
    /// <param name="hits">Experts in both.</param>
    void Scored(int layer, int lookahead, int predicted, int actual, int hits);
}

/// <summary>
/// Scores pre-gating: the experts a prediction named for layer L, made <c>d</c> layers earlier in the same step, against
/// the experts L's gate then chose for the step. Each scored prediction adds its predicted, chosen and hit expert slots to
/// the totals of (L, d), so precision = hits / predicted and recall = hits / actual. A prediction is scored once, by the
/// next choice of its layer in the same step; one whose layer never gates in that step (the step failed) is dropped
/// when the next step starts (layer 0 gates). Used from one forward loop at a time: no locks, no allocation.
/// </summary>
public sealed class PregatingTally
{
    readonly int _layers, _experts, _maxLookahead;
    readonly bool[] _named;      // ((layer * maxLookahead) + lookahead - 1) * experts + expert
    readonly int[] _namedCount;  // (layer * maxLookahead) + lookahead - 1; -1 when nothing is pending
    readonly bool[] _chosen;
    readonly long[] _predicted, _actual, _hits;
    readonly IPregatingRecorder? _recorder;

    /// <param name="maxLookahead">The most layers ahead a prediction is scored for; predictions further ahead are ignored.</param>
    /// <param name="recorder">Told every scored prediction (the rank's counters); null keeps the totals only.</param>
    public PregatingTally(int layers, int experts, int maxLookahead, IPregatingRecorder? recorder = null)
    {
        if (layers < 1) throw new ArgumentOutOfRangeException(nameof(layers), layers, "pre-gating needs at least one layer");
        if (experts < 1) throw new ArgumentOutOfRangeException(nameof(experts), experts, "pre-gating needs at least one expert per layer");
        if (maxLookahead < 1) throw new ArgumentOutOfRangeException(nameof(maxLookahead), maxLookahead, "the most layers ahead must be at least 1");
        _layers = layers;
        _experts = experts;
        _maxLookahead = maxLookahead;
        _named = new bool[layers * maxLookahead * experts];
        _namedCount = new int[layers * maxLookahead];
        Array.Fill(_namedCount, -1);
        _chosen = new bool[experts];
        _predicted = new long[layers * maxLookahead];
        _actual = new long[layers * maxLookahead];
        _hits = new long[layers * maxLookahead];
        _recorder = recorder;
    }

    public int Layers => _layers;
    public int MaxLookahead => _maxLookahead;

    /// <summary>
    /// The distinct experts a prediction made at <paramref name="from"/> names for <paramref name="layer"/>; replaces an
    /// unscored prediction for the same layer and lookahead. Out-of-range experts are refused.
    /// </summary>
    public void Predicted(int from, int layer, ReadOnlySpan<long> experts)
    {
        if ((uint)layer >= (uint)_layers) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the model has {_layers} layers");
        int lookahead = layer - from;
        if (lookahead < 1) throw new ArgumentException($"a prediction for layer {layer} made at layer {from} is not ahead of it", nameof(from));
        if (lookahead > _maxLookahead) return;
        int slot = layer * _maxLookahead + lookahead - 1;
        Span<bool> named = _named.AsSpan(slot * _experts, _experts);
        named.Clear();
        int count = 0;
        foreach (long expert in experts)
        {
            if ((ulong)expert >= (ulong)_experts) throw new ArgumentOutOfRangeException(nameof(experts), expert, $"layer {layer} has {_experts} experts");
            if (!named[(int)expert])
            {
                named[(int)expert] = true;
                count++;
            }
        }
        _namedCount[slot] = count;
    }

    /// <summary>
    /// The experts <paramref name="layer"/>'s gate chose for the step (any order, repeats allowed); scores and clears
    /// every prediction pending for it. Layer 0 starts a step: predictions left from the previous step are dropped.
    /// </summary>
    public void Chosen(int layer, ReadOnlySpan<int> experts)
    {
        if ((uint)layer >= (uint)_layers) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the model has {_layers} layers");
        if (layer == 0) Array.Fill(_namedCount, -1);
        _chosen.AsSpan().Clear();
        int actual = 0;
        foreach (int expert in experts)
        {
            if ((uint)expert >= (uint)_experts) throw new ArgumentOutOfRangeException(nameof(experts), expert, $"layer {layer} has {_experts} experts");
            if (!_chosen[expert])
            {
                _chosen[expert] = true;
                actual++;
            }
        }
        for (int lookahead = 1; lookahead <= _maxLookahead; lookahead++)
        {
            int slot = layer * _maxLookahead + lookahead - 1;
            int predicted = _namedCount[slot];
            if (predicted < 0) continue;
            _namedCount[slot] = -1;
            ReadOnlySpan<bool> named = _named.AsSpan(slot * _experts, _experts);
            int hits = 0;
            for (int e = 0; e < _experts; e++)
                if (named[e] && _chosen[e]) hits++;
            _predicted[slot] += predicted;
            _actual[slot] += actual;
            _hits[slot] += hits;
            _recorder?.Scored(layer, lookahead, predicted, actual, hits);
        }
    }

    /// <summary>The totals so far, one entry per layer and lookahead that scored at least one prediction.</summary>
    public IReadOnlyList<PregatingAccuracy> Totals()
    {
        var totals = new List<PregatingAccuracy>();
        for (int layer = 0; layer < _layers; layer++)
            for (int lookahead = 1; lookahead <= _maxLookahead; lookahead++)
            {
                int slot = layer * _maxLookahead + lookahead - 1;
                if (_predicted[slot] > 0 || _actual[slot] > 0)
                    totals.Add(new PregatingAccuracy(layer, lookahead, _predicted[slot], _actual[slot], _hits[slot]));
            }
        return totals;
    }
}
