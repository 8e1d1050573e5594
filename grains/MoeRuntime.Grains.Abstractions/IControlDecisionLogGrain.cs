namespace MoeRuntime.Grains;

/// <summary>
/// The audit trail of one model's controllers (keyed by model name): every decision of the latency, cost,
/// prefetch and balancing controllers, applied, only proposed (dry run) or refused by a guardrail, newest
/// kept up to a bound. Operators read it through the silo's HTTP endpoint and <c>moe control decisions</c>.
/// </summary>
public interface IControlDecisionLogGrain : IGrainWithStringKey
{
    Task RecordAsync(ControlDecisionRecord[] decisions);

    /// <summary>The newest decisions first, at most <paramref name="maxDecisions"/>, optionally of one controller only.</summary>
    Task<ControlDecisionRecord[]> GetDecisionsAsync(int maxDecisions, string? controller);
}

/// <summary>One controller decision as it is kept and shown: when, who, on which rank, from which numbers, what, why, and its outcome.</summary>
[GenerateSerializer, Immutable, Alias("moe.ControlDecisionRecord")]
public sealed record ControlDecisionRecord
{
    /// <summary>Assigned by the log, increasing; 0 until recorded.</summary>
    [Id(0)] public long Sequence { get; init; }
    [Id(1)] public DateTimeOffset At { get; init; }
    /// <summary>latency, cost, prefetch, balancer or operator.</summary>
    [Id(2)] public required string Controller { get; init; }
    /// <summary>The rank decided for; null for cluster-wide decisions (prefetch settings, placement).</summary>
    [Id(3)] public int? Rank { get; init; }
    /// <summary>The few named numbers behind the decision (for example <c>p95_itl_s</c>).</summary>
    [Id(4)] public Dictionary<string, double> Inputs { get; init; } = [];
    [Id(5)] public required string Change { get; init; }
    [Id(6)] public required string Reason { get; init; }
    /// <summary>applied, proposed (dry run) or refused (a guardrail stopped it).</summary>
    [Id(7)] public required string Outcome { get; init; }
    /// <summary>The TierSet or placement map version the decision wrote; null when it wrote none.</summary>
    [Id(8)] public long? Version { get; init; }
}
