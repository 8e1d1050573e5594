using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Planning;

/// <summary>
/// One rank driven interval by interval: each step sets the interval's uses, asks the controller, passes the plan
/// through the guardrails and applies what they admit, checking the budgets after every step.
/// </summary>
sealed class RankSimulation(RankState initial, ITierController controller, GuardrailOptions guardrails)
{
    int _interval;

    public RankState State { get; private set; } = initial;

    /// <summary>Moves applied over all steps.</summary>
    public int MovesApplied { get; private set; }

    public TierPlan Step(Func<ExpertKey, long> uses, ObservedLatency? latency = null)
    {
        var withUses = new RankState(State.Rank, State.Budgets, [.. State.Experts.Select(e => e with { Uses = uses(e.Key) })]);
        TierPlan admitted = TierGuardrails.Apply(controller.Plan(Ranks.Input(withUses, _interval++, latency)), withUses, guardrails);
        var to = admitted.Moves.ToDictionary(m => m.Expert, m => m.To);
        State = new RankState(State.Rank, State.Budgets, [.. withUses.Experts.Select(e => e with { Tier = to.GetValueOrDefault(e.Key, e.Tier) })]);
        MovesApplied += admitted.Moves.Count;
        Assert.True(State.BytesUsed(Tier.Hot) <= State.Budgets.HotBytes, $"hot over budget after interval {_interval}");
        Assert.True(State.BytesUsed(Tier.Warm) <= State.Budgets.WarmBytes, $"warm over budget after interval {_interval}");
        return admitted;
    }
}
