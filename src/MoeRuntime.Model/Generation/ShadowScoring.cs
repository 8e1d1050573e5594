using System.Diagnostics;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Generation;

/// <summary>
/// One model's teacher-forced pass over a finished sequence (prompt plus the primary's completion): for each
/// completion token its log-probability under this model and this model's own most likely token at that position,
/// and every layer's top-k expert choices for every position. One forward pass; no sampling, no second generation.
/// </summary>
/// <param name="LogProbs">log p(completion[i] | everything before it), per completion token.</param>
/// <param name="Argmax">The model's most likely token where completion[i] was produced.</param>
/// <param name="Routing">Per layer: the sorted top-k experts of every position, flattened (positions × k).</param>
public sealed record SequenceScore(float[] LogProbs, int[] Argmax, int[][] Routing, int TopK, TimeSpan Elapsed)
{
    /// <summary>Scores <paramref name="completion"/> after <paramref name="prompt"/> under <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">The prompt or completion is empty, or the sequence is longer than the model takes.</exception>
    public static SequenceScore Of(MoeModel model, IReadOnlyList<int> prompt, IReadOnlyList<int> completion)
    {
        if (prompt.Count == 0) throw new ArgumentException("shadow scoring needs a prompt of at least one token", nameof(prompt));
        if (completion.Count == 0) throw new ArgumentException("shadow scoring needs at least one completion token", nameof(completion));
        int length = prompt.Count + completion.Count - 1; // the last completion token is predicted, never fed
        if (length > model.Config.MaxSequenceLength)
            throw new ArgumentException($"the sequence has {length} positions to feed; the model takes {model.Config.MaxSequenceLength}");
        int[] fed = [.. prompt, .. completion.Take(completion.Count - 1)];
        int layers = model.Config.LayerCount, k = model.Config.ExpertsPerToken;
        var routing = new int[layers][];
        long started = Stopwatch.GetTimestamp();
        using KvCache cache = model.CreateCache(fed.Length);
        using var scope = NewDisposeScope();
        Tensor logits = model.Forward([new SequenceStep(cache, fed)], allPositions: true, observe: (layer, plan) =>
        {
            var chosen = new int[plan.TokenCount * k];
            for (int t = 0; t < plan.TokenCount; t++)
            {
                for (int s = 0; s < k; s++) chosen[t * k + s] = plan.ChosenExperts[t * k + s];
                Array.Sort(chosen, t * k, k);
            }
            routing[layer] = chosen;
        });
        // Rows prompt-1 .. end predict the completion tokens.
        Tensor rows = logits.narrow(0, prompt.Count - 1, completion.Count).to(ScalarType.Float32);
        Tensor logSoftmax = nn.functional.log_softmax(rows, 1);
        Tensor targets = tensor(completion.Select(t => (long)t).ToArray(), device: logits.device).unsqueeze(1);
        float[] logProbs = logSoftmax.gather(1, targets).squeeze(1).cpu().data<float>().ToArray();
        int[] argmax = rows.argmax(1).cpu().data<long>().Select(v => (int)v).ToArray();
        return new SequenceScore(logProbs, argmax, routing, k, Stopwatch.GetElapsedTime(started));
    }
}

/// <summary>How a candidate scored the primary's sequences, summed so that requests merge.</summary>
/// <param name="Tokens">Completion tokens compared.</param>
/// <param name="GreedyAgreements">Completion tokens the candidate's most likely token equals the primary's token.</param>
/// <param name="LogProbDivergenceSum">Σ |log p_primary − log p_candidate| of the primary's tokens (nats).</param>
/// <param name="MaxLogProbDivergence">The largest such difference of one token.</param>
/// <param name="RoutingPositions">Positions whose routing was compared (per layer).</param>
/// <param name="RoutingAgreements">Per layer: positions whose top-k expert sets are equal.</param>
/// <param name="PrimarySeconds">The primary's scoring time over the same sequences.</param>
/// <param name="CandidateSeconds">The candidate's scoring time.</param>
public sealed record ShadowAgreement(long Tokens, long GreedyAgreements, double LogProbDivergenceSum, double MaxLogProbDivergence,
    long RoutingPositions, long[] RoutingAgreements, double PrimarySeconds, double CandidateSeconds)
{
    public double GreedyAgreement => Tokens == 0 ? 0 : GreedyAgreements / (double)Tokens;
    public double MeanLogProbDivergence => Tokens == 0 ? 0 : LogProbDivergenceSum / Tokens;
    /// <summary>Per layer, the share of positions routed to the same top-k set.</summary>
    public double[] RoutingAgreementPerLayer => RoutingAgreements.Select(a => RoutingPositions == 0 ? 0 : a / (double)RoutingPositions).ToArray();
    public double MinRoutingAgreement => RoutingAgreements.Length == 0 ? 0 : RoutingAgreementPerLayer.Min();
    /// <summary>Candidate time over primary time for the same work (1 = as fast).</summary>
    public double LatencyRatio => PrimarySeconds <= 0 ? 0 : CandidateSeconds / PrimarySeconds;

    /// <summary>Compares two scores of the same sequence: the primary's (whose tokens they are) and the candidate's.</summary>
    /// <param name="greedyAgainstPrimaryArgmax">
    /// Count a greedy agreement where the candidate's most likely token is the primary's most likely token, rather than the
    /// token in <paramref name="completion"/>: the same for a greedy completion, and the fair comparison for a sampled one.
    /// </param>
    /// <exception cref="ArgumentException">The scores are of different sequences or models of different shape.</exception>
    public static ShadowAgreement Compare(SequenceScore primary, SequenceScore candidate, IReadOnlyList<int> completion, bool greedyAgainstPrimaryArgmax = false)
    {
        if (primary.LogProbs.Length != completion.Count || candidate.LogProbs.Length != completion.Count)
            throw new ArgumentException($"the scores cover {primary.LogProbs.Length} and {candidate.LogProbs.Length} tokens, the completion {completion.Count}");
        if (primary.Routing.Length != candidate.Routing.Length || primary.TopK != candidate.TopK)
            throw new ArgumentException($"the primary has {primary.Routing.Length} layers of top-{primary.TopK}, the candidate {candidate.Routing.Length} of top-{candidate.TopK}: not comparable");
        long agree = 0;
        double sum = 0, max = 0;
        for (int i = 0; i < completion.Count; i++)
        {
            if (candidate.Argmax[i] == (greedyAgainstPrimaryArgmax ? primary.Argmax[i] : completion[i])) agree++;
            double d = Math.Abs(primary.LogProbs[i] - (double)candidate.LogProbs[i]);
            sum += d;
            max = Math.Max(max, d);
        }
        int k = primary.TopK, positions = primary.Routing.Length == 0 ? 0 : primary.Routing[0].Length / k;
        var routing = new long[primary.Routing.Length];
        for (int l = 0; l < routing.Length; l++)
            for (int t = 0; t < positions; t++)
                if (primary.Routing[l].AsSpan(t * k, k).SequenceEqual(candidate.Routing[l].AsSpan(t * k, k))) routing[l]++;
        return new ShadowAgreement(completion.Count, agree, sum, max, positions, routing, primary.Elapsed.TotalSeconds, candidate.Elapsed.TotalSeconds);
    }

    /// <summary>Both comparisons together, as if over one longer sequence.</summary>
    public ShadowAgreement Merge(ShadowAgreement other)
    {
        if (other.RoutingAgreements.Length != RoutingAgreements.Length)
            throw new ArgumentException($"cannot merge agreements over {RoutingAgreements.Length} and {other.RoutingAgreements.Length} layers");
        return new ShadowAgreement(Tokens + other.Tokens, GreedyAgreements + other.GreedyAgreements, LogProbDivergenceSum + other.LogProbDivergenceSum,
            Math.Max(MaxLogProbDivergence, other.MaxLogProbDivergence), RoutingPositions + other.RoutingPositions,
            RoutingAgreements.Zip(other.RoutingAgreements, (a, b) => a + b).ToArray(), PrimarySeconds + other.PrimarySeconds, CandidateSeconds + other.CandidateSeconds);
    }
}

/// <summary>
/// The bounds a candidate must hold to be promoted. Defaults are for "the same model, re-packaged or re-quantised
/// lightly": nearly every greedy token the same, small log-probability changes, routing mostly kept, no slower than
/// half again.
/// </summary>
public sealed record ShadowGate
{
    public double MinGreedyAgreement { get; init; } = 0.98;
    public double MaxMeanLogProbDivergence { get; init; } = 0.05;
    public double MinRoutingAgreement { get; init; } = 0.9;
    public double MaxLatencyRatio { get; init; } = 1.5;
    /// <summary>Completion tokens compared before any verdict: fewer is refused as too little evidence.</summary>
    public long MinTokens { get; init; } = 32;

    /// <summary>Why <paramref name="a"/> may not be promoted: one line per bound broken; empty = promote.</summary>
    public IReadOnlyList<string> Refusals(ShadowAgreement a)
    {
        var refusals = new List<string>();
        if (a.Tokens < MinTokens) refusals.Add($"only {a.Tokens} tokens compared, the gate needs {MinTokens}");
        if (a.GreedyAgreement < MinGreedyAgreement) refusals.Add($"greedy agreement {a.GreedyAgreement:P2} is under {MinGreedyAgreement:P2}");
        if (a.MeanLogProbDivergence > MaxMeanLogProbDivergence)
            refusals.Add($"mean log-prob divergence {a.MeanLogProbDivergence:F4} nats per token is over {MaxMeanLogProbDivergence:F4}");
        double[] layers = a.RoutingAgreementPerLayer;
        for (int l = 0; l < layers.Length; l++)
            if (layers[l] < MinRoutingAgreement) refusals.Add($"routing agreement of layer {l} is {layers[l]:P1}, under {MinRoutingAgreement:P1}");
        if (a.LatencyRatio > MaxLatencyRatio) refusals.Add($"the candidate took {a.LatencyRatio:F2}x the primary's time, over {MaxLatencyRatio:F2}x");
        return refusals;
    }

    /// <exception cref="ArgumentException">A bound is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!(MinGreedyAgreement is >= 0 and <= 1)) throw new ArgumentException($"MinGreedyAgreement must be a share [0, 1], was {MinGreedyAgreement}");
        if (!(MaxMeanLogProbDivergence >= 0) || double.IsInfinity(MaxMeanLogProbDivergence))
            throw new ArgumentException($"MaxMeanLogProbDivergence must be a finite number of nats of at least 0, was {MaxMeanLogProbDivergence}");
        if (!(MinRoutingAgreement is >= 0 and <= 1)) throw new ArgumentException($"MinRoutingAgreement must be a share [0, 1], was {MinRoutingAgreement}");
        if (!(MaxLatencyRatio > 0) || double.IsInfinity(MaxLatencyRatio)) throw new ArgumentException($"MaxLatencyRatio must be a positive number, was {MaxLatencyRatio}");
        if (MinTokens < 1) throw new ArgumentException($"MinTokens must be at least 1, was {MinTokens}");
    }
}
