using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// The sparse feed-forward block of one layer: route, run each chosen expert once on all of its
/// tokens, add the weighted outputs back (plus the shared expert where the model has one).
/// </summary>
public sealed class MoeBlock(MoeGate gate, IReadOnlyList<ExpertFfn> experts, SharedExpert? shared) : IDisposable
{
    public MoeGate Gate { get; } = gate;
    public IReadOnlyList<ExpertFfn> Experts { get; } = experts;
    public SharedExpert? Shared { get; } = shared;

    /// <summary>Computes the block with every expert local; <paramref name="observe"/> sees each step's plan.</summary>
    public Tensor Forward(Tensor hidden, Action<RoutingPlan>? observe = null)
    {
        using var scope = NewDisposeScope();
        using RoutingPlan plan = Gate.Plan(hidden);
        observe?.Invoke(plan);
        Tensor output = Shared?.Forward(hidden) ?? zeros_like(hidden);
        foreach (int e in plan.ActiveExperts())
        {
            using Tensor tokens = plan.Gather(hidden, e);
            using Tensor result = Experts[e].Forward(tokens);
            plan.Accumulate(output, e, result);
        }
        return output.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Gate.Dispose();
        foreach (ExpertFfn expert in Experts) expert.Dispose();
        Shared?.Dispose();
    }
}
