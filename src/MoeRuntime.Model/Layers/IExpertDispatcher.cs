using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// Runs one layer's routed experts somewhere — in process, or on the ranks that host them — and adds
/// their weighted outputs into <c>output</c> (rows of the batch, [tokens, hidden]).
/// </summary>
public interface IExpertDispatcher
{
    /// <summary>
    /// Called once per layer per step with the layer's plan and its MoE input; must finish writing
    /// <paramref name="output"/> before the returned task completes. Tensors passed in stay alive until then.
    /// </summary>
    Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken);
}
