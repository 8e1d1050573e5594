namespace MoeRuntime.Control.Planning;

/// <summary>The serving latencies the latency controller holds to its targets; null when the interval had none to measure.</summary>
public sealed record ObservedLatency(double? P95InterTokenSeconds, double? P95TimeToFirstTokenSeconds)
{
    /// <summary>No latency measured (an idle interval, or replay of routing traces).</summary>
    public static ObservedLatency None { get; } = new(null, null);
}
