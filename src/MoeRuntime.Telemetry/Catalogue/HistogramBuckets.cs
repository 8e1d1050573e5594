namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>
/// Exported bucket bounds, in the metric's unit. Ranks keep relative-error sketches, so these only
/// shape the Prometheus histograms; they are the seeds' lists, widened where a standard or an SLO
/// threshold needs an exact boundary.
/// </summary>
public static class HistogramBuckets
{
    /// <summary>
    /// End-to-end request seconds: seed 001's list (10 ms … 30 s) plus the SLO thresholds of seeds
    /// 002 (p50 0.4 s, p95 1.2 s) and 004 (p95 2 s), and 60 s for long generations.
    /// </summary>
    public static IReadOnlyList<double> RequestSeconds { get; } =
        [0.01, 0.025, 0.05, 0.1, 0.25, 0.4, 0.5, 1, 1.2, 2, 2.5, 5, 10, 30, 60];

    /// <summary>
    /// Time to first token: seed 001/003's list (5 ms … 2.5 s) merged with the OpenTelemetry GenAI
    /// <c>gen_ai.server.time_to_first_token</c> advisory buckets (the same ones vLLM uses), plus 0.8 s
    /// for seed 004's streaming SLO. A superset keeps both kinds of queries exact.
    /// </summary>
    public static IReadOnlyList<double> TimeToFirstTokenSeconds { get; } =
        [0.001, 0.005, 0.01, 0.02, 0.025, 0.04, 0.05, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 0.8, 1, 2.5, 5, 7.5, 10];

    /// <summary>
    /// Time per output token (inter-token latency): seed 003's 1 ms … 500 ms merged with the
    /// OpenTelemetry GenAI <c>gen_ai.server.time_per_output_token</c> advisory buckets.
    /// </summary>
    public static IReadOnlyList<double> TimePerOutputTokenSeconds { get; } =
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2.5];

    /// <summary>Prefill and decode step: seed 004's 0.2 ms … 128 ms, extended to 2.5 s for long prompts.</summary>
    public static IReadOnlyList<double> StepSeconds { get; } =
        [0.0002, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.25, 0.5, 1, 2.5];

    /// <summary>Sub-millisecond work measured per token or per call: 10 µs … 100 ms.</summary>
    public static IReadOnlyList<double> FineSeconds { get; } =
        [0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1];

    /// <summary>Queue wait: 1 ms … 10 s, fine where admission is healthy and coarse where it backs up.</summary>
    public static IReadOnlyList<double> QueueSeconds { get; } =
        [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Expert fetch from a tier: 100 µs (warm copy) … 2.5 s (cold read and integrity check).</summary>
    public static IReadOnlyList<double> TierFetchSeconds { get; } =
        [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    /// <summary>Model load: seed 001's 0.5 s … 120 s.</summary>
    public static IReadOnlyList<double> ModelLoadSeconds { get; } = [0.5, 1, 2.5, 5, 10, 30, 60, 120];

    /// <summary>Start-up phases: seed 001's 1 s … 60 s, with 0.1 s and 0.5 s for the quick phases.</summary>
    public static IReadOnlyList<double> StartupSeconds { get; } = [0.1, 0.5, 1, 5, 10, 30, 60];

    /// <summary>Tokens per request: seed 003's 1 … 2000, extended to 8192 for long contexts.</summary>
    public static IReadOnlyList<double> TokensPerRequest { get; } = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 4096, 8192];

    /// <summary>Per-request generation rate, tokens/s: seed 001's 10 … 600.</summary>
    public static IReadOnlyList<double> TokensPerSecond { get; } = [10, 25, 50, 100, 150, 250, 400, 600];

    /// <summary>Batch size: seed 001's discrete classes 1, 2–4, 5–8, 9–16, 17–32, 33+ as cumulative bounds.</summary>
    public static IReadOnlyList<double> BatchSize { get; } = [1, 4, 8, 16, 32];
}
