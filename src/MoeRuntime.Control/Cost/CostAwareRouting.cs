using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Cost;

/// <summary>
/// The pure part of cost-adaptive routing over a batch of gate scores laid out token-major (tokens × experts):
/// subtract a penalty from cold experts, measure how many top-k choices that changed, and fall back to the unbiased
/// scores when the change is over the quality bound.
/// </summary>
public static class CostAwareRouting
{
    /// <summary>Writes into <paramref name="routed"/> the scores the gate should pick its top-k from.</summary>
    /// <param name="scores">Gate logits or probabilities, tokens × experts, token-major.</param>
    /// <param name="tiers">The tier of each expert of the layer.</param>
    public static RoutingBias Apply(ReadOnlySpan<float> scores, ReadOnlySpan<Tier> tiers, CostAwareRoutingOptions options, Span<float> routed)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        CheckShapes(scores, tiers.Length, routed.Length, nameof(routed));
        if (!options.Enabled)
        {
            scores.CopyTo(routed);
            return new RoutingBias(false, 0, "cost-adaptive routing is off");
        }
        Penalize(scores, tiers, options.ColdPenalty, routed);
        double changed = ChangedTopKShare(scores, routed, tiers.Length, options.TopK);
        if (changed > options.MaxChangedShare)
        {
            scores.CopyTo(routed);
            return new RoutingBias(false, changed, $"refused: the bias would change {changed:P1} of top-{options.TopK} choices, over the bound of {options.MaxChangedShare:P1}");
        }
        return new RoutingBias(true, changed, $"biased away from cold experts, changing {changed:P1} of top-{options.TopK} choices");
    }

    /// <summary>Copies <paramref name="scores"/> into <paramref name="biased"/> with <paramref name="penalty"/> subtracted from every cold expert.</summary>
    public static void Penalize(ReadOnlySpan<float> scores, ReadOnlySpan<Tier> tiers, float penalty, Span<float> biased)
    {
        CheckShapes(scores, tiers.Length, biased.Length, nameof(biased));
        for (int i = 0; i < scores.Length; i++)
            biased[i] = tiers[i % tiers.Length] == Tier.Cold ? scores[i] - penalty : scores[i];
    }

    /// <summary>
    /// The share of top-k choices that differ between two score batches: per token, the experts in one top-k and not
    /// the other, summed and divided by tokens × k. Ties go to the lower expert index.
    /// </summary>
    public static double ChangedTopKShare(ReadOnlySpan<float> before, ReadOnlySpan<float> after, int experts, int k)
    {
        if (experts < 1) throw new ArgumentException($"a layer has at least one expert, was {experts}", nameof(experts));
        if (k < 1 || k > experts) throw new ArgumentException($"top-k must be within [1, {experts}], was {k}", nameof(k));
        if (before.Length != after.Length || before.Length % experts != 0)
            throw new ArgumentException($"both batches must be tokens × {experts} scores, were {before.Length} and {after.Length}", nameof(after));
        int tokens = before.Length / experts;
        if (tokens == 0) return 0;
        Span<int> top = k <= 64 ? stackalloc int[k] : new int[k];
        Span<int> topAfter = k <= 64 ? stackalloc int[k] : new int[k];
        long changed = 0;
        for (int t = 0; t < tokens; t++)
        {
            TopK(before.Slice(t * experts, experts), top);
            TopK(after.Slice(t * experts, experts), topAfter);
            foreach (int chosen in topAfter)
                if (!top.Contains(chosen)) changed++;
        }
        return changed / (double)(tokens * k);
    }

    /// <summary>The indices of the <c>chosen.Length</c> highest scores, best first.</summary>
    static void TopK(ReadOnlySpan<float> row, Span<int> chosen)
    {
        int filled = 0;
        for (int e = 0; e < row.Length; e++)
        {
            int at = filled;
            while (at > 0 && row[e] > row[chosen[at - 1]]) at--;
            if (at >= chosen.Length) continue;
            int last = Math.Min(filled, chosen.Length - 1);
            for (int i = last; i > at; i--) chosen[i] = chosen[i - 1];
            chosen[at] = e;
            if (filled < chosen.Length) filled++;
        }
    }

    static void CheckShapes(ReadOnlySpan<float> scores, int experts, int outputLength, string output)
    {
        if (experts < 1) throw new ArgumentException("the layer's tiers must name at least one expert", nameof(experts));
        if (scores.Length % experts != 0)
            throw new ArgumentException($"the scores ({scores.Length}) must be tokens × {experts} experts", nameof(scores));
        if (outputLength != scores.Length)
            throw new ArgumentException($"the output must hold {scores.Length} scores, holds {outputLength}", output);
    }
}
