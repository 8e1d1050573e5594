using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Cost;

/// <summary>The prices the cost controller weighs, and how sure it must be before demoting.</summary>
public sealed record CostControllerOptions
{
    public CostModel Model { get; init; } = new();

    /// <summary>
    /// How much cheaper (0.1 = 10 %) the lower tier must be, memory and expected misses together, before an expert is
    /// demoted; keeps experts near the break-even point from moving back and forth.
    /// </summary>
    public double DemoteMargin { get; init; } = 0.1;

    /// <summary>Intervals after which an interval's uses weigh half as much in an expert's expected uses.</summary>
    public double DemandHalfLifeIntervals { get; init; } = 3;

    /// <summary>Miss latencies assumed until telemetry has timed fetches.</summary>
    public FetchPriors FetchPriors { get; init; } = new();

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Model);
        Model.Validate();
        if (!(DemoteMargin >= 0) || double.IsInfinity(DemoteMargin))
            throw new ArgumentException($"CostControllerOptions.DemoteMargin must be a finite ratio of at least 0, was {DemoteMargin}", nameof(DemoteMargin));
        if (!(DemandHalfLifeIntervals > 0) || double.IsInfinity(DemandHalfLifeIntervals))
            throw new ArgumentException($"CostControllerOptions.DemandHalfLifeIntervals must be a positive number of intervals, was {DemandHalfLifeIntervals}", nameof(DemandHalfLifeIntervals));
        ArgumentNullException.ThrowIfNull(FetchPriors);
        FetchPriors.Validate();
    }
}
