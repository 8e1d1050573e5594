using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Wire;

/// <summary>
/// Runs every expert in process, like <see cref="LocalExpertDispatcher"/>, but sends its rows and its answer through
/// the wire codec in <paramref name="format"/> both ways, as a remote call does: the model's output under that format
/// without a cluster, to measure what the format costs in accuracy.
/// </summary>
public sealed class WireRoundTripDispatcher(MoeModel model, WireFormat format) : IExpertDispatcher
{
    public Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        IReadOnlyList<ExpertFfn> experts = model.Layers[layer].Moe.Experts;
        foreach (int e in plan.ActiveExperts())
        {
            Tensor sent = RoundTrip(plan.Gather(moeInput, e));
            plan.Accumulate(output, e, RoundTrip(experts[e].Forward(sent)));
        }
        return Task.CompletedTask;
    }

    Tensor RoundTrip(Tensor matrix)
    {
        byte[] data = WireCodec.Encode(matrix, format);
        return WireCodec.Decode(data, (int)matrix.shape[0], (int)matrix.shape[1], format, matrix.device);
    }
}
