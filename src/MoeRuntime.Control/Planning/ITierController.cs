namespace MoeRuntime.Control.Planning;

/// <summary>
/// A policy that moves a rank's experts between tiers. Called once per rank and interval; its plan goes through
/// <see cref="Guardrails.TierGuardrails.Apply"/> before anything is written.
/// </summary>
public interface ITierController
{
    /// <summary>The name decisions are recorded under and TierSet versions are authored by.</summary>
    string Name { get; }

    TierPlan Plan(ControlInput input);
}
