using MoeRuntime.Control.Cost;
using MoeRuntime.Model.Layers;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// Cost-adaptive routing on the router (opt-in, <c>Moe:Control:CostAwareRouting</c>): each layer's gate
/// probabilities lose a penalty on experts that are cold everywhere, unless that would change more top-k
/// choices than the quality guard allows, in which case the layer routes as trained.
/// </summary>
public sealed class CostAwareRoutingBias(CostAwareRoutingOptions options, ExpertTierCache tiers) : IRoutingBias
{
    long _applied, _refused;

    /// <summary>Layer-steps whose routing the bias changed (or would have, with no effect on top-k).</summary>
    public long Applied => Interlocked.Read(ref _applied);

    /// <summary>Layer-steps the quality guard kept unbiased.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    public bool Adjust(int layer, ReadOnlySpan<float> probabilities, int experts, Span<float> scores)
    {
        RoutingBias bias = CostAwareRouting.Apply(probabilities, tiers.Layer(layer), options, scores);
        Interlocked.Increment(ref bias.Applied ? ref _applied : ref _refused);
        return bias.Applied;
    }
}
