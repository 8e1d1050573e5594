using System.Security.Cryptography;

namespace MoeRuntime.Model.Sampling;

/// <summary>
/// Picks one request's tokens from its logits on the CPU. Holds its own scratch buffers, so sampling a token
/// allocates nothing; the random draw for a token depends only on the seed and the token's absolute position
/// in the sequence (<see cref="TokenRandom.ForPosition"/>), so a run is reproducible from the seed and a request
/// resumed with its earlier tokens appended to the prompt continues exactly as it would have.
/// </summary>
public sealed class TokenSampler
{
    readonly SamplingOptions _options;
    readonly float[] _probabilities;
    readonly int[] _order;
    readonly Comparison<int> _byProbability;

    public TokenSampler(SamplingOptions options, int vocabularySize)
    {
        options.Validate(vocabularySize);
        _options = options;
        Seed = options.Seed ?? BitConverter.ToUInt64(RandomNumberGenerator.GetBytes(8));
        _probabilities = new float[vocabularySize];
        _order = new int[vocabularySize];
        _byProbability = (a, b) => _probabilities[b].CompareTo(_probabilities[a]) is var c && c != 0 ? c : a.CompareTo(b);
    }

    /// <summary>The seed in use, so that a sampled run can be repeated.</summary>
    public ulong Seed { get; }

    /// <summary>
    /// The token at absolute sequence position <paramref name="position"/> (prompt length plus tokens generated before
    /// it) for these logits; throws if they hold NaN or infinity.
    /// </summary>
    public int Sample(ReadOnlySpan<float> logits, int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        if (logits.Length != _probabilities.Length)
            throw new ArgumentException($"expected {_probabilities.Length} logits, got {logits.Length}", nameof(logits));
        int best = ArgMax(logits);
        if (_options.IsGreedy) return best;

        // Softmax of logits / T, shifted by the maximum for stability; a NaN logit poisons the total.
        float max = logits[best];
        double inverseT = 1.0 / _options.Temperature, total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float p = (float)Math.Exp((logits[i] - max) * inverseT);
            _probabilities[i] = p;
            total += p;
        }
        if (!double.IsFinite(total)) throw new InvalidOperationException("logits hold NaN or infinity");

        int kept = _order.Length;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (_options.TopK > 0 || _options.TopP < 1)
        {
            Array.Sort(_order, _byProbability);
            if (_options.TopK > 0) kept = _options.TopK;
            double running = 0, target = _options.TopP * total;
            total = 0;
            for (int i = 0; i < kept; i++)
            {
                total += _probabilities[_order[i]];
                if (_options.TopP < 1 && (running += _probabilities[_order[i]]) >= target)
                {
                    kept = i + 1;
                    break;
                }
            }
        }

        double draw = TokenRandom.ForPosition(Seed, position).NextDouble() * total, cumulative = 0;
        for (int i = 0; i < kept; i++)
            if ((cumulative += _probabilities[_order[i]]) > draw) return _order[i];
        return _order[kept - 1];
    }

    static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (float.IsNaN(values[i])) throw new InvalidOperationException("logits hold NaN");
            if (values[i] > values[best]) best = i;
        }
        if (float.IsNaN(values[0])) throw new InvalidOperationException("logits hold NaN");
        return best;
    }
}
