using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Latency;

/// <summary>The latency targets the latency controller keeps, and how fast it takes and gives back hot memory.</summary>
public sealed record LatencyControllerOptions
{
    /// <summary>p95 inter-token latency (time per output token) to stay under; null ignores it.</summary>
    public double? TargetP95InterTokenSeconds { get; init; } = 0.1;

    /// <summary>p95 time to first token to stay under; null ignores it.</summary>
    public double? TargetP95TimeToFirstTokenSeconds { get; init; } = 1.0;

    /// <summary>How far under every target latency must be (0.2 = 20 % under) before hot memory is given back.</summary>
    public double GiveBackMargin { get; init; } = 0.2;

    /// <summary>Share of the hot budget added to the controller's hot allowance per interval over target.</summary>
    public double GrowStep { get; init; } = 0.25;

    /// <summary>Share of the hot budget given back per interval while latency holds with margin.</summary>
    public double ShrinkStep { get; init; } = 0.05;

    /// <summary>Share of the hot budget never given back.</summary>
    public double MinHotShare { get; init; }

    /// <summary>Intervals after which an interval's uses weigh half as much in an expert's demand.</summary>
    public double DemandHalfLifeIntervals { get; init; } = 3;

    /// <summary>Shortening the demand half-life (both controllers') while routing drifts; on by default.</summary>
    public DriftHalfLifeOptions DriftHalfLife { get; init; } = new();

    /// <summary>Expected uses per interval under which an expert holds no memory at all (cold).</summary>
    public double MinDemand { get; init; } = 0.01;

    /// <summary>
    /// The transient-yield rule: an expert is assigned hot only while its demand per hot byte beats what the rank's
    /// transient copies earn per hot byte (their hits per interval, decayed like demand). A slot holding a fixed expert
    /// that is used less often than a slot of recently used copies is hit costs hits, so the plan then leaves the slot
    /// to the copies. Needs <see cref="RankState.Transient"/>; ranks without it plan as if it were off.
    /// </summary>
    public bool TransientYield { get; init; } = true;

    /// <summary>
    /// How many times what a hot byte of transient copies earns an assigned expert's demand per hot byte must beat. Above
    /// 1 it allows for the calls to the expert that transient copies would catch if it were not assigned.
    /// Tuned on routing-trace replays (docs/routing-traces.md): 1.25 keeps the plan at or above LRU's hit rate on every
    /// trace and capacity measured.
    /// </summary>
    public double TransientYieldWeight { get; init; } = 1.25;

    /// <summary>Miss latencies assumed until telemetry has timed fetches.</summary>
    public FetchPriors FetchPriors { get; init; } = new();

    /// <summary>The telemetry sample ratio to restore once latency holds with margin.</summary>
    public double BaseSampleRatio { get; init; } = 1.0;

    /// <summary>
    /// The least share of the configured telemetry sampling (trace head sampling, routing re-checks) kept under latency
    /// pressure; 1 never lowers sampling.
    /// </summary>
    public double MinSampleRatio { get; init; } = 0.25;

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (TargetP95InterTokenSeconds is { } itl && !(itl > 0))
            throw new ArgumentException($"LatencyControllerOptions.TargetP95InterTokenSeconds must be positive or null, was {itl}", nameof(TargetP95InterTokenSeconds));
        if (TargetP95TimeToFirstTokenSeconds is { } ttft && !(ttft > 0))
            throw new ArgumentException($"LatencyControllerOptions.TargetP95TimeToFirstTokenSeconds must be positive or null, was {ttft}", nameof(TargetP95TimeToFirstTokenSeconds));
        Share(GiveBackMargin, nameof(GiveBackMargin), allowZero: true, allowOne: false);
        Share(GrowStep, nameof(GrowStep), allowZero: false, allowOne: true);
        Share(ShrinkStep, nameof(ShrinkStep), allowZero: false, allowOne: true);
        Share(MinHotShare, nameof(MinHotShare), allowZero: true, allowOne: true);
        if (!(DemandHalfLifeIntervals > 0) || double.IsInfinity(DemandHalfLifeIntervals))
            throw new ArgumentException($"LatencyControllerOptions.DemandHalfLifeIntervals must be a positive number of intervals, was {DemandHalfLifeIntervals}", nameof(DemandHalfLifeIntervals));
        ArgumentNullException.ThrowIfNull(DriftHalfLife);
        DriftHalfLife.Validate();
        if (!(MinDemand >= 0) || double.IsInfinity(MinDemand))
            throw new ArgumentException($"LatencyControllerOptions.MinDemand must be a finite number of at least 0, was {MinDemand}", nameof(MinDemand));
        if (!(TransientYieldWeight > 0) || double.IsInfinity(TransientYieldWeight))
            throw new ArgumentException($"LatencyControllerOptions.TransientYieldWeight must be a positive finite number, was {TransientYieldWeight}", nameof(TransientYieldWeight));
        ArgumentNullException.ThrowIfNull(FetchPriors);
        FetchPriors.Validate();
        Share(BaseSampleRatio, nameof(BaseSampleRatio), allowZero: false, allowOne: true);
        Share(MinSampleRatio, nameof(MinSampleRatio), allowZero: false, allowOne: true);
        if (MinSampleRatio > BaseSampleRatio)
            throw new ArgumentException($"LatencyControllerOptions.MinSampleRatio ({MinSampleRatio}) must not exceed BaseSampleRatio ({BaseSampleRatio})", nameof(MinSampleRatio));
    }

    static void Share(double value, string name, bool allowZero, bool allowOne)
    {
        bool ok = (allowZero ? value >= 0 : value > 0) && (allowOne ? value <= 1 : value < 1);
        if (!ok)
            throw new ArgumentException(
                $"LatencyControllerOptions.{name} must be a share {(allowZero ? "[0" : "(0")}, 1{(allowOne ? "]" : ")")}, was {value}", name);
    }
}
