namespace MoeRuntime.Benchmarks;

/// <summary>How long to warm up and how many timed samples to take per case.</summary>
/// <param name="WarmupOps">Untimed runs first: libtorch allocates its caches and picks kernels on the first calls.</param>
/// <param name="Samples">Timed samples per case; medians and p10/p90 come from these.</param>
/// <param name="SampleMilliseconds">Cheap ops are repeated inside one sample until it lasts about this long, so that timer resolution does not matter.</param>
sealed record SamplingPlan(int WarmupOps, int Samples, double SampleMilliseconds)
{
    public static readonly SamplingPlan Full = new(WarmupOps: 5, Samples: 31, SampleMilliseconds: 30);
    public static readonly SamplingPlan Quick = new(WarmupOps: 2, Samples: 7, SampleMilliseconds: 5);
}
