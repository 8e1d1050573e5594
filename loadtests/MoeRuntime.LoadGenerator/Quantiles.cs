namespace MoeRuntime.LoadGenerator;

/// <summary>p50/p90/p95/p99 of a sample, in milliseconds (nearest rank; the samples of one run fit in memory).</summary>
sealed record Quantiles(double P50, double P90, double P95, double P99, int Count)
{
    public static Quantiles Of(IEnumerable<double> samples)
    {
        double[] sorted = samples.Order().ToArray();
        if (sorted.Length == 0) return new Quantiles(double.NaN, double.NaN, double.NaN, double.NaN, 0);
        double At(double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
        return new Quantiles(At(0.50), At(0.90), At(0.95), At(0.99), sorted.Length);
    }

    public string Format() => Count == 0 ? "–" : $"{P50:F0} / {P90:F0} / {P99:F0}";
}
