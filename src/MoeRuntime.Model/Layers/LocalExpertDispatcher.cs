using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>Runs every expert in process from a model that holds them: the reference for remote dispatchers.</summary>
public sealed class LocalExpertDispatcher(MoeModel model) : IExpertDispatcher
{
    public Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
    {
        using var scope = NewDisposeScope();
        IReadOnlyList<ExpertFfn> experts = model.Layers[layer].Moe.Experts;
        foreach (int e in plan.ActiveExperts())
            plan.Accumulate(output, e, experts[e].Forward(plan.Gather(moeInput, e)));
        return Task.CompletedTask;
    }
}
