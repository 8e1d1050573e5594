namespace MoeRuntime.Control.Latency;

/// <summary>
/// Shortening the controllers' demand half-life while routing drifts (section <c>Moe:Control:Latency:DriftHalfLife</c>):
/// while the cluster's largest per-layer PSI of expert choices is over <see cref="PsiThreshold"/>, both controllers
/// decay demand at <see cref="Factor"/> times their configured half-life (never under one interval), so the old mix's
/// experts lose rank faster; once PSI is under <see cref="RestoreBelowPsi"/> the configured half-life is back.
/// </summary>
public sealed record DriftHalfLifeOptions
{
    /// <summary>False keeps the configured half-life whatever the drift.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The largest layer PSI over which the half-life is shortened; 0.25 is the drift alert's threshold (a shift).</summary>
    public double PsiThreshold { get; init; } = 0.25;

    /// <summary>
    /// The largest layer PSI under which the configured half-life is restored (at most <see cref="PsiThreshold"/>): the
    /// gap keeps a PSI hovering at the threshold from switching every interval.
    /// </summary>
    public double RestoreBelowPsi { get; init; } = 0.2;

    /// <summary>The share of the configured half-life used while drifting, in (0, 1]; the result is floored at one interval.</summary>
    public double Factor { get; init; } = 0.5;

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!(PsiThreshold > 0) || double.IsInfinity(PsiThreshold))
            throw new ArgumentException($"DriftHalfLifeOptions.PsiThreshold must be a positive finite PSI, was {PsiThreshold}", nameof(PsiThreshold));
        if (!(RestoreBelowPsi > 0 && RestoreBelowPsi <= PsiThreshold))
            throw new ArgumentException($"DriftHalfLifeOptions.RestoreBelowPsi must be positive and at most PsiThreshold ({PsiThreshold}), was {RestoreBelowPsi}", nameof(RestoreBelowPsi));
        if (!(Factor > 0 && Factor <= 1))
            throw new ArgumentException($"DriftHalfLifeOptions.Factor must be a share (0, 1], was {Factor}", nameof(Factor));
    }
}
