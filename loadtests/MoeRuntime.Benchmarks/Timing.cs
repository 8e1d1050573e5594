namespace MoeRuntime.Benchmarks;

/// <summary>Milliseconds per op over the samples of one case.</summary>
sealed class Timing(string name, double[] millisecondsPerOp)
{
    readonly double[] _sorted = millisecondsPerOp.Order().ToArray();

    public string Name { get; } = name;
    public int Samples => _sorted.Length;
    public double Median => Percentile(0.5);
    public double P10 => Percentile(0.1);
    public double P90 => Percentile(0.9);

    /// <summary>Linear interpolation between the closest ranks.</summary>
    public double Percentile(double p)
    {
        double rank = p * (_sorted.Length - 1);
        int low = (int)Math.Floor(rank);
        int high = Math.Min(low + 1, _sorted.Length - 1);
        return _sorted[low] + (rank - low) * (_sorted[high] - _sorted[low]);
    }
}
