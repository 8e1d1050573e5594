namespace MoeRuntime.Telemetry.Drift;

/// <summary>
/// How far one layer's expert choices moved between two windows, from mergeable per-expert counts (each routed token
/// counts once per expert it chose, so a top-k gate adds k choices per token).
/// </summary>
/// <param name="Psi">Population stability index of the recent distribution against the baseline (0 = identical).</param>
/// <param name="ChoiceShift">
/// Total-variation distance of the two distributions, ½ Σ |recent − baseline|: the smallest share of expert choices
/// that must have moved to another expert between the windows. Per-token top-1 changes cannot be seen in counts, so
/// this is a lower bound on the share of tokens whose choice changed, not a count of them.
/// </param>
/// <param name="RecentChoices">Expert choices counted in the recent window.</param>
/// <param name="BaselineChoices">Expert choices counted in the baseline window.</param>
/// <param name="Sufficient">Both windows hold at least the configured minimum of choices; when false, PSI and shift are reported as 0.</param>
public sealed record LayerDrift(int Layer, double Psi, double ChoiceShift, long RecentChoices, long BaselineChoices, bool Sufficient);

/// <summary>The drift of every layer, the windows it compares, and the largest PSI.</summary>
public sealed record RoutingDriftStatus(double RecentSeconds, double BaselineSeconds, double Threshold, double MaxPsi, IReadOnlyList<LayerDrift> Layers)
{
    /// <summary>Some layer's PSI is over <see cref="Threshold"/>.</summary>
    public bool Drifting => MaxPsi > Threshold;
}

/// <summary>The two drift measures as pure functions of two count vectors over the same experts.</summary>
public static class RoutingDrift
{
    /// <summary>
    /// The floor a bin's share is raised to before the logarithm, so an expert that no choice went to in one window
    /// contributes a large but finite term instead of infinity: 1e-4 (one in ten thousand), the usual choice for PSI.
    /// </summary>
    public const double DefaultEpsilon = 1e-4;

    /// <summary>
    /// PSI = Σ (rᵢ − bᵢ) · ln(rᵢ / bᵢ) over experts, with rᵢ and bᵢ each window's shares raised to at least
    /// <paramref name="epsilon"/>. Conventional reading: under 0.1 stable, 0.1–0.25 moderate, over 0.25 a shift.
    /// Returns 0 when either window is empty.
    /// </summary>
    /// <exception cref="ArgumentException">The vectors differ in length, a count is negative, or epsilon is not in (0, 1).</exception>
    public static double Psi(ReadOnlySpan<long> recent, ReadOnlySpan<long> baseline, double epsilon = DefaultEpsilon)
    {
        if (!(epsilon > 0 && epsilon < 1)) throw new ArgumentException($"the PSI epsilon must be in (0, 1), was {epsilon}", nameof(epsilon));
        var (r, b) = Totals(recent, baseline);
        if (r == 0 || b == 0) return 0;
        double psi = 0;
        for (int i = 0; i < recent.Length; i++)
        {
            double p = Math.Max(recent[i] / (double)r, epsilon), q = Math.Max(baseline[i] / (double)b, epsilon);
            psi += (p - q) * Math.Log(p / q);
        }
        return psi;
    }

    /// <summary>½ Σ |rᵢ − bᵢ| over the windows' shares (0 = identical, 1 = no expert in common); 0 when either window is empty.</summary>
    /// <exception cref="ArgumentException">The vectors differ in length or a count is negative.</exception>
    public static double ChoiceShift(ReadOnlySpan<long> recent, ReadOnlySpan<long> baseline)
    {
        var (r, b) = Totals(recent, baseline);
        if (r == 0 || b == 0) return 0;
        double sum = 0;
        for (int i = 0; i < recent.Length; i++) sum += Math.Abs(recent[i] / (double)r - baseline[i] / (double)b);
        return sum / 2;
    }

    static (long Recent, long Baseline) Totals(ReadOnlySpan<long> recent, ReadOnlySpan<long> baseline)
    {
        if (recent.Length != baseline.Length)
            throw new ArgumentException($"the recent window counts {recent.Length} experts and the baseline {baseline.Length}; they must match");
        long r = 0, b = 0;
        for (int i = 0; i < recent.Length; i++)
        {
            if (recent[i] < 0 || baseline[i] < 0) throw new ArgumentException($"expert {i} has a negative count ({recent[i]}, {baseline[i]})");
            r += recent[i];
            b += baseline[i];
        }
        return (r, b);
    }
}
