using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Loop;

/// <summary>
/// One controller's plan for one rank and interval, before and after the guardrails: the step the live loop
/// (<see cref="TierControlLoop"/>) and replay (<see cref="Replay.ControllerReplayPolicy"/>) both run.
/// </summary>
/// <param name="Proposed">What the controller asked for.</param>
/// <param name="Admitted">What the guardrails let through (hysteresis, change cap, budgets, pins, dry run).</param>
public sealed record GuardedPlan(TierPlan Proposed, TierPlan Admitted)
{
    public static GuardedPlan Make(ITierController controller, ControlInput input, GuardrailOptions guardrails)
    {
        ArgumentNullException.ThrowIfNull(controller);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(guardrails);
        TierPlan proposed = controller.Plan(input);
        return new GuardedPlan(proposed, TierGuardrails.Apply(proposed, input.Rank, guardrails));
    }
}
