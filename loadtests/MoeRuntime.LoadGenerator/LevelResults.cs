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

/// <summary>
/// The same requests through the single-process reference generator, batched at the same concurrency; with the seconds its
/// batching loop spent in steps (forward pass and sampling) over how many steps.
/// </summary>
sealed record ReferenceLevel(int Concurrency, double Seconds, int Requests, long Tokens, TimelineSummary? Timeline = null,
    double StepSeconds = double.NaN, long Steps = 0)
{
    public double TokensPerSecond => Tokens / Seconds;
}

/// <summary>
/// One side's forward passes over a level: milliseconds of forward pass per token produced, and the share of the level's
/// wall clock the batching loop spent in them (the rest is the loop waiting for requests, admitting, sampling, emitting).
/// tokens/s = busy share / (ms per token / 1000), so the served / reference ratio is exactly the product of the two
/// sides' ratios: <see cref="LevelComparison.ForwardRatio"/> × <see cref="LevelComparison.BusyRatio"/>.
/// </summary>
readonly record struct ForwardShare(double MsPerToken, double BusyShare, long Steps)
{
    public static ForwardShare? Of(double forwardSeconds, long steps, long tokens, double levelSeconds) =>
        double.IsFinite(forwardSeconds) && forwardSeconds > 0 && steps > 0 && tokens > 0 && levelSeconds > 0
            ? new ForwardShare(forwardSeconds * 1000 / tokens, forwardSeconds / levelSeconds, steps)
            : null;
}

/// <summary>Both sides of one level.</summary>
sealed record LevelComparison(int Concurrency, ServedLevel? Served, ReferenceLevel? Reference)
{
    /// <summary>Served over reference tokens/s; the serving target is at least 0.7 at 32 concurrent requests.</summary>
    public double? Ratio => Served is { } s && Reference is { } r ? s.TokensPerSecond / r.TokensPerSecond : null;

    /// <summary>The served rank's forward passes over the level, from its own step histograms (needs <c>--metrics</c>).</summary>
    public ForwardShare? ServedForward => Served is { Rank: { } rank } s ? ForwardShare.Of(rank.ForwardSeconds, rank.Steps, s.Tokens, s.Seconds) : null;

    /// <summary>The reference's steps over the level, from its batching loop's own clock.</summary>
    public ForwardShare? ReferenceForward => Reference is { } r ? ForwardShare.Of(r.StepSeconds, r.Steps, r.Tokens, r.Seconds) : null;

    /// <summary>
    /// Reference over served forward milliseconds per token: above 1 when the served rank's passes cost less per token. With
    /// <see cref="BusyRatio"/> it accounts for the whole of <see cref="Ratio"/>: the rank's own step cost on one side, the
    /// time its loop spent outside steps (waiting for requests, the level's ramp and drain) on the other.
    /// </summary>
    public double? ForwardRatio => ServedForward is { } s && ReferenceForward is { } r ? r.MsPerToken / s.MsPerToken : null;

    /// <summary>Served over reference share of the level's wall clock spent in forward passes.</summary>
    public double? BusyRatio => ServedForward is { } s && ReferenceForward is { } r ? s.BusyShare / r.BusyShare : null;

    /// <summary>Served over reference inter-token latency p50 (the goal: at most 1.1 at one stream).</summary>
    public double? InterTokenRatio => Served is { } s && Reference?.Timeline is { } r && r.InterTokenMs.Count > 0 && s.InterTokenMs.Count > 0
        ? s.InterTokenMs.P50 / r.InterTokenMs.P50 : null;
}
