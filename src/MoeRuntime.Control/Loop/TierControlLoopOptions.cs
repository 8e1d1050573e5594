using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Latency;

namespace MoeRuntime.Control.Loop;

/// <summary>How <see cref="TierControlLoop"/> runs: its interval, its two controllers, the guardrails and the transient headroom.</summary>
public sealed record TierControlLoopOptions
{
    /// <summary>How often the loop runs; the memory an interval prices is held this long at most after an activation.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(5);
    public LatencyControllerOptions Latency { get; init; } = new();
    public CostControllerOptions Cost { get; init; } = new();
    /// <summary>False runs the latency controller alone (the cost controller still prices each interval).</summary>
    public bool CostEnabled { get; init; } = true;
    /// <summary>The guardrails every plan passes; the loop sets <see cref="GuardrailOptions.DryRun"/> from its own switch.</summary>
    public GuardrailOptions Guardrails { get; init; } = new();
    /// <summary>Copies of the rank's largest expert left free in the hot budget for transient copies.</summary>
    public int TransientHeadroomExperts { get; init; } = 1;
    /// <summary>Every how many intervals the load balancer runs; 0 never.</summary>
    public int BalanceEveryIntervals { get; init; }

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Latency);
        ArgumentNullException.ThrowIfNull(Cost);
        ArgumentNullException.ThrowIfNull(Guardrails);
        if (Interval <= TimeSpan.Zero) throw new ArgumentException($"TierControlLoopOptions.Interval must be positive, was {Interval}", nameof(Interval));
        if (TransientHeadroomExperts < 0) throw new ArgumentException($"TierControlLoopOptions.TransientHeadroomExperts must not be negative, was {TransientHeadroomExperts}", nameof(TransientHeadroomExperts));
        if (BalanceEveryIntervals < 0) throw new ArgumentException($"TierControlLoopOptions.BalanceEveryIntervals must not be negative, was {BalanceEveryIntervals}", nameof(BalanceEveryIntervals));
        Latency.Validate();
        Cost.Validate();
        Guardrails.Validate();
    }
}
