using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// The router of one MoE layer: a linear gate, softmax in float32 over all experts, top-k, and (as
/// Mixtral always does, Qwen2-MoE/OLMoE when <c>norm_topk_prob</c>) renormalisation of the k weights.
/// </summary>
public sealed class MoeGate(Tensor weight, int topK, bool normalizeTopK) : IDisposable
{
    readonly Tensor _weight = weight.to(ScalarType.Float32).DetachFromDisposeScope();

    public int ExpertCount => (int)_weight.shape[0];
    public int TopK { get; } = topK;

    /// <summary>Top-k experts [tokens, k] (int64, best first) and their weights [tokens, k] (float32).</summary>
    public (Tensor Experts, Tensor Weights) Route(Tensor hidden) => Route(hidden, 0, null).Choice;

    /// <summary>
    /// As <see cref="Route(Tensor)"/>, with top-k taken from <paramref name="bias"/>'s scores when it adjusts
    /// them; the weights stay the gate's probabilities of the chosen experts.
    /// </summary>
    public ((Tensor Experts, Tensor Weights) Choice, bool Biased) Route(Tensor hidden, int layer, IRoutingBias? bias)
    {
        using var scope = NewDisposeScope();
        Tensor probabilities = nn.functional.linear(hidden.to(ScalarType.Float32), _weight).softmax(-1, ScalarType.Float32);
        Tensor weights, experts;
        bool biased = false;
        if (bias is not null && Biased(probabilities, layer, bias) is { } scores)
        {
            experts = scores.topk(TopK, dim: -1).indexes;
            weights = probabilities.gather(-1, experts);
            biased = true;
        }
        else
            (weights, experts) = probabilities.topk(TopK, dim: -1);
        if (normalizeTopK) weights = weights / weights.sum([-1L], keepdim: true);
        return ((experts.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope()), biased);
    }

    /// <summary>The bias's scores as a tensor like <paramref name="probabilities"/>, or null when it leaves routing alone.</summary>
    Tensor? Biased(Tensor probabilities, int layer, IRoutingBias bias)
    {
        using Tensor cpu = probabilities.cpu().contiguous();
        ReadOnlySpan<float> values = cpu.data<float>().ToArray();
        var scores = new float[values.Length];
        return bias.Adjust(layer, values, ExpertCount, scores)
            ? tensor(scores, probabilities.shape, device: probabilities.device)
            : null;
    }

    /// <summary>
    /// The distinct experts, ascending, this gate picks in its top-k for any row of <paramref name="hidden"/> with a weight
    /// of at least <paramref name="threshold"/> (every top-k choice at 0): the prediction pre-gating hands on.
    /// </summary>
    public long[] Predict(Tensor hidden, float threshold)
    {
        using var scope = NewDisposeScope();
        var (experts, weights) = Route(hidden);
        if (threshold > 0)
        {
            // An explicit Scalar: TorchSharp leaves implicit ones to the finalizer thread.
            using Scalar least = threshold.ToScalar();
            experts = experts.masked_select(weights.ge(least));
        }
        return experts.unique().output.data<long>().ToArray();
    }

    public RoutingPlan Plan(Tensor hidden) => Plan(hidden, 0, null);

    /// <summary>The layer's routing plan, steered by <paramref name="bias"/> when given (see <see cref="Route(Tensor, int, IRoutingBias?)"/>).</summary>
    public RoutingPlan Plan(Tensor hidden, int layer, IRoutingBias? bias)
    {
        var ((experts, weights), biased) = Route(hidden, layer, bias);
        using (experts)
        using (weights)
            return RoutingPlan.Build(experts, weights, ExpertCount, biased);
    }

    public void Dispose() => _weight.Dispose();
}
