namespace MoeRuntime.Control.Planning;

/// <summary>What became of a decision.</summary>
public enum DecisionOutcome
{
    /// <summary>Admitted by the guardrails: the caller writes it into the next TierSet version.</summary>
    Applied,

    /// <summary>Dry run: admitted by the guardrails but only proposed; nothing is written.</summary>
    Proposed,

    /// <summary>Held back by a guardrail (pin, budget, change cap, hysteresis); the reason says which.</summary>
    Refused,
}
