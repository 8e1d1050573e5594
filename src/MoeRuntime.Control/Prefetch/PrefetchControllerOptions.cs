namespace MoeRuntime.Control.Prefetch;

/// <summary>
/// The bounds of the prefetch settings and the dead band between "too much waste" and "too many stalls" inside which
/// the prefetch controller leaves them alone.
/// </summary>
public sealed record PrefetchControllerOptions
{
    /// <summary>The most layers ahead to prefetch.</summary>
    public int MaxLookahead { get; init; } = 4;

    public double MinThreshold { get; init; } = 0.05;
    public double MaxThreshold { get; init; } = 0.9;

    /// <summary>How far a layer's threshold moves per interval.</summary>
    public double ThresholdStep { get; init; } = 0.05;

    /// <summary>Waste share (wasted over prefetched bytes) above which prefetching backs off.</summary>
    public double HighWasteShare { get; init; } = 0.5;

    /// <summary>Waste share under which prefetching may reach further when stalls are high.</summary>
    public double LowWasteShare { get; init; } = 0.2;

    /// <summary>Failed over issued prefetches above which prefetching backs off.</summary>
    public double HighFailureShare { get; init; } = 0.1;

    /// <summary>Stall seconds over the interval's seconds above which stalls count as high.</summary>
    public double HighStallShare { get; init; } = 0.02;

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (MaxLookahead < 0)
            throw new ArgumentException($"PrefetchControllerOptions.MaxLookahead must be at least 0, was {MaxLookahead}", nameof(MaxLookahead));
        Share(MinThreshold, nameof(MinThreshold));
        Share(MaxThreshold, nameof(MaxThreshold));
        if (MinThreshold > MaxThreshold)
            throw new ArgumentException($"PrefetchControllerOptions.MinThreshold ({MinThreshold}) must not exceed MaxThreshold ({MaxThreshold})", nameof(MinThreshold));
        if (!(ThresholdStep > 0 && ThresholdStep <= 1))
            throw new ArgumentException($"PrefetchControllerOptions.ThresholdStep must be within (0, 1], was {ThresholdStep}", nameof(ThresholdStep));
        Share(HighWasteShare, nameof(HighWasteShare));
        Share(LowWasteShare, nameof(LowWasteShare));
        if (LowWasteShare >= HighWasteShare)
            throw new ArgumentException($"PrefetchControllerOptions.LowWasteShare ({LowWasteShare}) must be under HighWasteShare ({HighWasteShare}) to leave a dead band", nameof(LowWasteShare));
        Share(HighFailureShare, nameof(HighFailureShare));
        Share(HighStallShare, nameof(HighStallShare));
    }

    static void Share(double value, string name)
    {
        if (!(value >= 0 && value <= 1))
            throw new ArgumentException($"PrefetchControllerOptions.{name} must be a share [0, 1], was {value}", name);
    }
}
