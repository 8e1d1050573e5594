namespace MoeRuntime.Control.Guardrails;

/// <summary>What every controller's plan must pass before it reaches a TierSet.</summary>
public sealed record GuardrailOptions
{
    /// <summary>
    /// The most tier moves admitted per rank and interval, so a burst of new demand reshapes the TierSet over several
    /// intervals instead of all at once. A swap counts every move it needs (promote, displaced hot → warm, warm → cold),
    /// hence at least 3.
    /// </summary>
    public int MaxChangesPerInterval { get; init; } = 16;

    /// <summary>
    /// How much more, per byte, a promoted expert must be worth than the expert it displaces (0.1 = 10 %): two experts of
    /// near-equal demand then stop trading places every interval.
    /// </summary>
    public double HysteresisRatio { get; init; } = 0.1;

    /// <summary>Only propose: decisions are recorded as proposed and no move is returned for writing.</summary>
    public bool DryRun { get; init; }

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (MaxChangesPerInterval < 3)
            throw new ArgumentException($"GuardrailOptions.MaxChangesPerInterval must be at least 3 so that one swap fits, was {MaxChangesPerInterval}", nameof(MaxChangesPerInterval));
        if (!(HysteresisRatio >= 0) || double.IsInfinity(HysteresisRatio))
            throw new ArgumentException($"GuardrailOptions.HysteresisRatio must be a finite ratio of at least 0, was {HysteresisRatio}", nameof(HysteresisRatio));
    }
}
