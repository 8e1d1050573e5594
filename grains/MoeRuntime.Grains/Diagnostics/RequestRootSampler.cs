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
/// <param name="ratio">The configured ratio (<c>Telemetry:TraceSampleRatio</c>), read per request span: it follows a configuration reload.</param>
public sealed class RequestRootSampler(Func<double> ratio, TelemetrySamplingCache sampling, bool recordUnsampled = false) : Sampler
{
    static readonly SamplingResult RecordOnly = new(SamplingDecision.RecordOnly);
    // Swapped whole when the configured ratio or the controllers' sampling changes, so a request span reads one consistent set.
    volatile RatioSampler? _current;

    public RequestRootSampler(double ratio, TelemetrySamplingCache sampling, bool recordUnsampled = false) : this(() => ratio, sampling, recordUnsampled)
    {
    }

    public override SamplingResult ShouldSample(in OpenTelemetry.Trace.SamplingParameters parameters)
    {
        if (parameters.Name != ServingTracing.RequestSpanName) return new SamplingResult(SamplingDecision.Drop);
        RatioSampler? current = _current;
        double configured = ratio(), scale = sampling.Ratio;
        if (current is null || scale != current.Scale || configured != current.Configured)
            _current = current = new RatioSampler(configured, scale, new TraceIdRatioBasedSampler(configured * scale));
        SamplingResult head = current.Sampler.ShouldSample(parameters);
        return head.Decision == SamplingDecision.Drop && recordUnsampled ? RecordOnly : head;
    }

    sealed record RatioSampler(double Configured, double Scale, TraceIdRatioBasedSampler Sampler);
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
