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
public sealed class RequestRootSampler(double ratio, TelemetrySamplingCache sampling) : Sampler
{
    // Swapped whole when the controllers change sampling, so a request span reads one consistent pair.
    volatile RatioSampler _current = new(1, new TraceIdRatioBasedSampler(ratio));

    public override SamplingResult ShouldSample(in OpenTelemetry.Trace.SamplingParameters parameters)
    {
        if (parameters.Name != "moe.request") return new SamplingResult(SamplingDecision.Drop);
        RatioSampler current = _current;
        double scale = sampling.Ratio;
        if (scale != current.Scale) _current = current = new RatioSampler(scale, new TraceIdRatioBasedSampler(ratio * scale));
        return current.Sampler.ShouldSample(parameters);
    }

    sealed record RatioSampler(double Scale, TraceIdRatioBasedSampler Sampler);
}
