namespace MoeRuntime.Model.Layers;

/// <summary>
/// Lets serving steer a layer's top-k choice (for example away from experts that are slow to reach)
/// without touching the gate's weights: top-k picks from the adjusted scores, and each chosen expert
/// still weighs in with the gate's own probability, renormalised as the model does.
/// </summary>
public interface IRoutingBias
{
    /// <summary>Writes the scores top-k picks from, tokens × experts token-major as <paramref name="probabilities"/>.</summary>
    /// <returns>False to route as the gate does (nothing written needs to be read).</returns>
    bool Adjust(int layer, ReadOnlySpan<float> probabilities, int experts, Span<float> scores);
}
