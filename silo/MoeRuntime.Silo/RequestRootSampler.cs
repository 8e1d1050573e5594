using OpenTelemetry.Trace;

namespace MoeRuntime.Silo;

/// <summary>
/// Decides traces at the request: a new trace starts only with a request span (<c>moe.request</c>),
/// kept at the configured ratio. Grain calls outside any request (a batching step's expert calls, the
/// telemetry pipeline's own calls) would otherwise each start a trace of their own, costing work and
/// cluttering the trace store with orphans; combined with parent-based sampling their children follow the request.
/// </summary>
sealed class RequestRootSampler(double ratio) : Sampler
{
    readonly TraceIdRatioBasedSampler _ratio = new(ratio);

    public override SamplingResult ShouldSample(in SamplingParameters parameters) =>
        parameters.Name == "moe.request" ? _ratio.ShouldSample(parameters) : new SamplingResult(SamplingDecision.Drop);
}
