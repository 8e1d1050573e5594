using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;

namespace MoeRuntime.Model.Wire;

/// <summary>How one prompt's greedy run under a wire format compares with the same run in float32.</summary>
/// <param name="Tokens">Tokens the float32 run generated.</param>
/// <param name="AgreedTokens">Leading tokens both runs chose alike (the runs see the same inputs up to the first difference).</param>
/// <param name="MaxLogitError">The largest |logit difference| over the steps both runs share.</param>
/// <param name="MeanKl">Mean KL(float32 ‖ format) of the next-token distributions per shared step, in nats.</param>
public sealed record WireAgreement(int Tokens, int AgreedTokens, double MaxLogitError, double MeanKl)
{
    public bool Identical => AgreedTokens == Tokens;
}

/// <summary>Greedy generation with experts behind a <see cref="WireRoundTripDispatcher"/>, compared step by step with float32.</summary>
public static class WireAccuracy
{
    /// <summary>Greedy tokens and each step's logits for <paramref name="prompt"/> with experts dispatched through <paramref name="format"/>.</summary>
    public static async Task<GenerationResult> GreedyAsync(MoeModel model, IReadOnlyList<int> prompt, int maxTokens, WireFormat format,
        CancellationToken cancellationToken = default)
    {
        var request = new GenerationRequest(prompt, Sampling.SamplingOptions.Greedy with { MaxTokens = maxTokens, StopTokenIds = [] }) { CaptureLogits = true };
        var dispatcher = new WireRoundTripDispatcher(model, format);
        using var sequence = new SequenceState(model, request);
        while (sequence.Finished is null)
        {
            using TorchSharp.torch.Tensor logits = await model.ForwardAsync([sequence.NextStep()], dispatcher, cancellationToken).ConfigureAwait(false);
            sequence.Accept(TensorSpans.Floats(logits));
        }
        return sequence.Result();
    }

    /// <summary>Compares a format's run with the float32 run of the same prompt.</summary>
    public static WireAgreement Compare(GenerationResult float32, GenerationResult other)
    {
        int agreed = 0;
        while (agreed < float32.Tokens.Count && agreed < other.Tokens.Count && float32.Tokens[agreed] == other.Tokens[agreed]) agreed++;
        // Step s's logits follow the same inputs in both runs while every token before s agreed.
        int shared = Math.Min(agreed + 1, Math.Min(float32.Logits!.Count, other.Logits!.Count));
        double maxError = 0, kl = 0;
        for (int s = 0; s < shared; s++)
        {
            float[] p = float32.Logits[s], q = other.Logits[s];
            for (int i = 0; i < p.Length; i++) maxError = Math.Max(maxError, Math.Abs(p[i] - q[i]));
            kl += KullbackLeibler(p, q);
        }
        return new WireAgreement(float32.Tokens.Count, agreed, maxError, shared == 0 ? 0 : kl / shared);
    }

    /// <summary>KL(softmax(p) ‖ softmax(q)) in nats, computed in double.</summary>
    public static double KullbackLeibler(ReadOnlySpan<float> p, ReadOnlySpan<float> q)
    {
        if (p.Length != q.Length) throw new ArgumentException($"logit vectors differ in length ({p.Length} and {q.Length})");
        double logZp = LogSumExp(p), logZq = LogSumExp(q), kl = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double lp = p[i] - logZp, lq = q[i] - logZq;
            kl += Math.Exp(lp) * (lp - lq);
        }
        return Math.Max(0, kl);
    }

    static double LogSumExp(ReadOnlySpan<float> x)
    {
        double max = double.NegativeInfinity;
        foreach (float v in x) max = Math.Max(max, v);
        double sum = 0;
        foreach (float v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
