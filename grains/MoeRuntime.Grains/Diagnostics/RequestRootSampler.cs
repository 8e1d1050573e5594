using MoeRuntime.Grains.Telemetry;
using OpenTelemetry.Trace;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>
/// Decides traces at the request: a new trace starts only with a request span (<c>moe.request</c>),
/// kept at the configured ratio times the controllers' telemetry sampling (<see cref="TelemetrySamplingCache"/>).
/// Grain calls outside any request (a batching step's expert calls, the telemetry pipeline's own calls) would
/// otherwise each start a trace of their own, costing work and cluttering the trace store with orphans; combined
/// with parent-based sampling their children follow the request.
/// </summary>
/// <param name="recordUnsampled">
/// A request span head sampling did not pick is still recorded (not sampled), so that <see cref="ErrorTraceProcessor"/>
/// can export its tree if the request fails or runs slow.
/// </param>
public sealed class RequestRootSampler(double ratio, TelemetrySamplingCache sampling, bool recordUnsampled = false) : Sampler
{
    static readonly SamplingResult RecordOnly = new(SamplingDecision.RecordOnly);
    // Swapped whole when the controllers change sampling, so a request span reads one consistent pair.
    volatile RatioSampler _current = new(1, new TraceIdRatioBasedSampler(ratio));

    public override SamplingResult ShouldSample(in OpenTelemetry.Trace.SamplingParameters parameters)
    {
        if (parameters.Name != ServingTracing.RequestSpanName) return new SamplingResult(SamplingDecision.Drop);
        RatioSampler current = _current;
        double scale = sampling.Ratio;
        if (scale != current.Scale) _current = current = new RatioSampler(scale, new TraceIdRatioBasedSampler(ratio * scale));
        SamplingResult head = current.Sampler.ShouldSample(parameters);
        return head.Decision == SamplingDecision.Drop && recordUnsampled ? RecordOnly : head;
    }

    sealed record RatioSampler(double Scale, TraceIdRatioBasedSampler Sampler);
}

/// <summary>
/// Records without sampling: for the children of a recorded-only request span, and (with <c>requestsOnly</c>) for a
/// request span whose caller's trace was not sampled. Everything else is dropped.
/// </summary>
public sealed class RecordOnlySampler(bool requestsOnly) : Sampler
{
    static readonly SamplingResult Record = new(SamplingDecision.RecordOnly), Drop = new(SamplingDecision.Drop);

    public override SamplingResult ShouldSample(in OpenTelemetry.Trace.SamplingParameters parameters) =>
        !requestsOnly || parameters.Name == ServingTracing.RequestSpanName ? Record : Drop;
}
