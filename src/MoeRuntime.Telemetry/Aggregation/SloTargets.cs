namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>Service-level objectives the views report against (defaults from the requirement seeds).</summary>
public sealed record SloTargets
{
    /// <summary>Median end-to-end latency (seed: p50 &lt; 400 ms).</summary>
    public double RequestP50Seconds { get; init; } = 0.4;
    /// <summary>95th percentile end-to-end latency (seed: p95 &lt; 1200 ms).</summary>
    public double RequestP95Seconds { get; init; } = 1.2;
    /// <summary>99th percentile end-to-end latency (seed: p99 &lt; 2.5 s).</summary>
    public double RequestP99Seconds { get; init; } = 2.5;
    /// <summary>
    /// Completion tokens per second (over the request's whole duration) that 95 % of requests reach: the
    /// streaming class's throughput floor (seed: tokens/s at least a threshold; 10 is the seed's "very slow").
    /// </summary>
    public double MinRequestTokensPerSecond { get; init; } = 10;
    /// <summary>95th percentile time to first token for streams (seed: ≤ 800 ms).</summary>
    public double TtftP95Seconds { get; init; } = 0.8;
    /// <summary>Share of requests that may fail (seed: ≤ 0.5 %).</summary>
    public double ErrorRatio { get; init; } = 0.005;
    /// <summary>Share of requests that must succeed (seed: ≥ 99.9 %).</summary>
    public double Availability { get; init; } = 0.999;
}
