namespace MoeRuntime.Control.Latency;

/// <summary>
/// Whether the controllers' demand half-life is shortened for routing drift, switched by the cluster's largest layer
/// PSI each interval with hysteresis (<see cref="DriftHalfLifeOptions"/>). Pure state: the loop feeds it the PSI it read
/// and records the switches it returns.
/// </summary>
public sealed class DriftHalfLife
{
    /// <summary>The half-life is shortened now.</summary>
    public bool Shortened { get; private set; }

    /// <summary>
    /// The half-life to use for <paramref name="configuredIntervals"/>: the configured one, or while shortened
    /// <paramref name="factor"/> times it floored at one interval (a configured half-life under one interval is kept).
    /// </summary>
    public static double Shorten(double configuredIntervals, double factor) =>
        Math.Min(configuredIntervals, Math.Max(1, configuredIntervals * factor));

    /// <summary>The half-life in use for <paramref name="configuredIntervals"/> under <paramref name="options"/>.</summary>
    public double Current(double configuredIntervals, DriftHalfLifeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Shortened ? Shorten(configuredIntervals, options.Factor) : configuredIntervals;
    }

    /// <summary>
    /// Takes one interval's largest layer PSI (null when the cluster view carried none: the state holds) and returns the
    /// switch it causes, or null when the state holds. Shortens when PSI is over the threshold; restores when PSI is under
    /// the restore level, or at once when the rule is switched off.
    /// </summary>
    public DriftHalfLifeSwitch? Observe(double? maxPsi, DriftHalfLifeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool next = Shortened;
        if (!options.Enabled) next = false;
        else if (maxPsi is { } psi && !double.IsNaN(psi))
            next = Shortened ? psi >= options.RestoreBelowPsi : psi > options.PsiThreshold;
        if (next == Shortened) return null;
        Shortened = next;
        return new DriftHalfLifeSwitch(next, maxPsi, next ? options.PsiThreshold : options.RestoreBelowPsi, options.Enabled);
    }
}

/// <summary>
/// The half-life was shortened (<paramref name="Shortened"/>) or restored, on a largest layer PSI of
/// <paramref name="MaxPsi"/> against <paramref name="Level"/> (the threshold when shortened, the restore level when
/// restored); <paramref name="Enabled"/> false when it was restored because the rule was switched off.
/// </summary>
public sealed record DriftHalfLifeSwitch(bool Shortened, double? MaxPsi, double Level, bool Enabled);
