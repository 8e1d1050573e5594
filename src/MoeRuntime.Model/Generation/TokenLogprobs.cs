namespace MoeRuntime.Model.Generation;

/// <summary>One candidate token and its log-probability.</summary>
public readonly record struct TokenProbability(int Id, float Logprob);

/// <summary>
/// Log-probabilities of one step: the log-softmax of the model's raw logits (temperature 1, before top-k/top-p),
/// computed in double precision, as transformers' <c>log_softmax</c> of the scores would give, so they compare
/// with another implementation whatever the request's sampling settings were.
/// </summary>
public sealed record TokenLogprobs(float Chosen, IReadOnlyList<TokenProbability> Top)
{
    /// <summary>The log-probability of <paramref name="chosen"/> and the <paramref name="top"/> most likely ids, best first (ties: lower id first).</summary>
    public static TokenLogprobs Compute(ReadOnlySpan<float> logits, int chosen, int top)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(top);
        if ((uint)chosen >= (uint)logits.Length) throw new ArgumentOutOfRangeException(nameof(chosen), chosen, "the chosen token lies outside the logits");
        double max = double.NegativeInfinity;
        foreach (float x in logits) max = Math.Max(max, x);
        double sum = 0;
        foreach (float x in logits) sum += Math.Exp(x - max);
        double normalizer = max + Math.Log(sum);
        top = Math.Min(top, logits.Length);
        var best = new TokenProbability[top];
        int filled = 0;
        for (int id = 0; id < logits.Length && top > 0; id++)
        {
            float x = logits[id];
            if (filled == top && !(x > logits[best[filled - 1].Id])) continue;
            int at = filled < top ? filled++ : top - 1;
            while (at > 0 && x > logits[best[at - 1].Id])
            {
                best[at] = best[at - 1];
                at--;
            }
            best[at] = new TokenProbability(id, 0);
        }
        for (int i = 0; i < filled; i++) best[i] = best[i] with { Logprob = (float)(logits[best[i].Id] - normalizer) };
        return new TokenLogprobs((float)(logits[chosen] - normalizer), best);
    }
}
