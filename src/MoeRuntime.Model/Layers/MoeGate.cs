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
    public (Tensor Experts, Tensor Weights) Route(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        Tensor probabilities = nn.functional.linear(hidden.to(ScalarType.Float32), _weight).softmax(-1, ScalarType.Float32);
        var (weights, experts) = probabilities.topk(TopK, dim: -1);
        if (normalizeTopK) weights = weights / weights.sum([-1L], keepdim: true);
        return (experts.MoveToOuterDisposeScope(), weights.MoveToOuterDisposeScope());
    }

    public RoutingPlan Plan(Tensor hidden)
    {
        var (experts, weights) = Route(hidden);
        using (experts)
        using (weights)
            return RoutingPlan.Build(experts, weights, ExpertCount);
    }

    public void Dispose() => _weight.Dispose();
}
