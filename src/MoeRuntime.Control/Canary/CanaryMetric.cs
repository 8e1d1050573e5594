namespace MoeRuntime.Control.Canary;

/// <summary>What a canary trial compares between its canary ranks and the other ranks, per interval.</summary>
public enum CanaryMetric
{
    /// <summary>p95 time per output token, seconds (lower is better).</summary>
    InterTokenP95,

    /// <summary>p95 time to first token, seconds (lower is better).</summary>
    TimeToFirstTokenP95,

    /// <summary>Share of the interval's expert calls served from the hot tier (higher is better).</summary>
    HotHitRatio,

    /// <summary>Seconds spent waiting on warm and cold fetches per 1000 expert calls (lower is better).</summary>
    FetchStallPerThousandCalls,

    /// <summary>What memory and fetches cost per 1000 tokens served, dollars (lower is better).</summary>
    DollarsPerThousandTokens,
}

/// <summary>Names, directions and parsing of <see cref="CanaryMetric"/>.</summary>
public static class CanaryMetrics
{
    /// <summary>Every metric, in the order status and records list them.</summary>
    public static readonly IReadOnlyList<CanaryMetric> All = Enum.GetValues<CanaryMetric>();

    /// <summary>The metric's name in decision records and on the command line.</summary>
    public static string Name(CanaryMetric metric) => metric switch
    {
        CanaryMetric.InterTokenP95 => "itl_p95_s",
        CanaryMetric.TimeToFirstTokenP95 => "ttft_p95_s",
        CanaryMetric.HotHitRatio => "hit_ratio",
        CanaryMetric.FetchStallPerThousandCalls => "stall_s_per_1k_calls",
        CanaryMetric.DollarsPerThousandTokens => "usd_per_1k_tokens",
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "not a canary metric"),
    };

    /// <summary>True when a larger value is the better one (the hit ratio); every other metric is a cost.</summary>
    public static bool HigherIsBetter(CanaryMetric metric) => metric == CanaryMetric.HotHitRatio;

    /// <summary>Parses a name as <see cref="Name"/> gives it, or the enum member's name, case-insensitively.</summary>
    public static bool TryParse(string? text, out CanaryMetric metric)
    {
        foreach (CanaryMetric m in All)
            if (string.Equals(text, Name(m), StringComparison.OrdinalIgnoreCase) || string.Equals(text, m.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                metric = m;
                return true;
            }
        metric = default;
        return false;
    }

    /// <summary>Parses a metric name or throws an error that lists the names accepted.</summary>
    /// <exception cref="ArgumentException"><paramref name="text"/> names no metric.</exception>
    public static CanaryMetric Parse(string? text) => TryParse(text, out CanaryMetric metric)
        ? metric
        : throw new ArgumentException($"'{text}' is not a canary metric; use one of {string.Join(", ", All.Select(Name))}", nameof(text));
}
