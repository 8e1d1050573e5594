using MoeRuntime.Grains;

namespace MoeRuntime.LoadGenerator;

/// <summary>Router counters over one level: what crossed the wire between the router and the expert grains.</summary>
sealed record WireTraffic(long ExpertCalls, long BytesSent, long BytesReceived, double ExpertCallSeconds)
{
    public static WireTraffic Between(RouterStatus before, RouterStatus after) => new(
        after.ExpertCalls - before.ExpertCalls,
        after.BytesSent - before.BytesSent,
        after.BytesReceived - before.BytesReceived,
        after.ExpertCallSeconds - before.ExpertCallSeconds);

    public long Bytes => BytesSent + BytesReceived;
}

/// <summary>One concurrency level against the cluster.</summary>
sealed record ServedLevel(
    int Concurrency, double Seconds, long Requests, long Tokens, Quantiles TimeToFirstTokenMs, Quantiles InterTokenMs,
    IReadOnlyDictionary<string, int> Errors, WireTraffic Wire, long Resumed = 0, IReadOnlyList<ThroughputSample>? Throughput = null,
    TimelineSummary? Timeline = null, RankLevel? Rank = null)
{
    public double TokensPerSecond => Tokens / Seconds;
    public double RequestsPerSecond => Requests / Seconds;
    public double ExpertCallsPerToken => (double)Wire.ExpertCalls / Math.Max(Tokens, 1);
    public double WireBytesPerToken => (double)Wire.Bytes / Math.Max(Tokens, 1);
    public double WireMegabytesPerSecond => Wire.Bytes / 1e6 / Seconds;
    /// <summary>Expert-call time summed over calls (a layer's calls overlap), per second of the level.</summary>
    public double ExpertCallSecondsPerSecond => Wire.ExpertCallSeconds / Seconds;
}

/// <summary>
/// The clients' running totals at one instant of a level (<c>--throughput-every</c>): seconds since the level began, tokens
/// streamed, requests completed and failed, streams resumed. Differences of neighbours give throughput over time.
/// </summary>
sealed record ThroughputSample(double Seconds, long Tokens, long Completed, long Failed, long Resumed);

/// <summary>The same requests through the single-process reference generator, batched at the same concurrency.</summary>
sealed record ReferenceLevel(int Concurrency, double Seconds, int Requests, long Tokens, TimelineSummary? Timeline = null)
{
    public double TokensPerSecond => Tokens / Seconds;
}

/// <summary>Both sides of one level.</summary>
sealed record LevelComparison(int Concurrency, ServedLevel? Served, ReferenceLevel? Reference)
{
    /// <summary>Served over reference tokens/s; the serving target is at least 0.7 at 32 concurrent requests.</summary>
    public double? Ratio => Served is { } s && Reference is { } r ? s.TokensPerSecond / r.TokensPerSecond : null;

    /// <summary>Served over reference inter-token latency p50 (the goal: at most 1.1 at one stream).</summary>
    public double? InterTokenRatio => Served is { } s && Reference?.Timeline is { } r && r.InterTokenMs.Count > 0 && s.InterTokenMs.Count > 0
        ? s.InterTokenMs.P50 / r.InterTokenMs.P50 : null;
}
