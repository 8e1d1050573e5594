using System.Diagnostics;
using System.Diagnostics.Metrics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Tracing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>
/// The tail decision for error traces at the router: spans head sampling sampled go straight to
/// the exporter; spans only recorded (a request head sampling passed over, and its local children)
/// are held per request in a bounded <see cref="TailTraceBuffer{TKey, TSpan}"/> until its <c>moe.request</c> span
/// ends. A request that failed (status error) or took at least <see cref="ErrorTraceOptions.SlowRequestSeconds"/>
/// has its spans marked sampled and exported; the rest are discarded. Only spans of this rank's process are held:
/// the request's calls to grains on other ranks are not sampled there.
/// </summary>
public sealed class ErrorTraceProcessor : BaseProcessor<Activity>
{
    /// <summary>The meter of the tail decision's own counts, exported over OTLP with the traces.</summary>
    public const string MeterName = "MoeRuntime.ErrorTraces";
    readonly BaseProcessor<Activity> _exporter;
    readonly TailTraceBuffer<ActivityTraceId, Activity> _buffer;
    readonly TimeSpan _slow;
    readonly Meter _meter = new(MeterName);

    public ErrorTraceProcessor(BaseProcessor<Activity> exporter, ErrorTraceOptions options)
    {
        _exporter = exporter;
        _buffer = new TailTraceBuffer<ActivityTraceId, Activity>(options.MaxBufferedRequests, options.MaxSpansPerRequest);
        _slow = TimeSpan.FromSeconds(options.SlowRequestSeconds);
        _meter.CreateObservableCounter("moe_error_trace_decisions_total", () => new[]
        {
            new Measurement<long>(_buffer.KeptTraces, new KeyValuePair<string, object?>("decision", "kept")),
            new Measurement<long>(_buffer.DiscardedTraces, new KeyValuePair<string, object?>("decision", "discarded")),
        }, "{request}", "Requests head sampling passed over whose spans the tail decision exported (failed or slow) or discarded.");
        _meter.CreateObservableCounter("moe_error_trace_spans_dropped_total", () => _buffer.DroppedSpans, "{span}",
            "Spans of unsampled requests dropped for room in the error-trace buffer (over MaxSpansPerRequest, or the oldest request when MaxBufferedRequests were held).");
        _meter.CreateObservableGauge("moe_error_trace_buffered_requests", () => _buffer.BufferedTraces, "{request}",
            "Requests whose spans the error-trace buffer holds now.");
    }

    /// <summary>Counts of what the tail decision did (kept, discarded, dropped for room).</summary>
    public TailTraceBuffer<ActivityTraceId, Activity> Buffer => _buffer;

    public override void OnStart(Activity data) => _exporter.OnStart(data);

    public override void OnEnd(Activity data)
    {
        if (data.Recorded)
        {
            _exporter.OnEnd(data);
            return;
        }
        if (!data.IsAllDataRequested) return;
        if (data.OperationName == ServingTracing.RequestSpanName && data.Source.Name == ServingTracing.SourceName)
        {
            bool keep = data.Status == ActivityStatusCode.Error || data.Duration >= _slow;
            foreach (Activity span in _buffer.Decide(data.TraceId, keep)) Export(span);
            if (keep)
            {
                data.SetTag("moe.trace.kept", data.Status == ActivityStatusCode.Error ? "error" : "slow");
                Export(data);
            }
            return;
        }
        if (_buffer.Add(data.TraceId, data) == TailSpanFate.Keep) Export(data);
    }

    void Export(Activity span)
    {
        span.ActivityTraceFlags |= ActivityTraceFlags.Recorded;
        _exporter.OnEnd(span);
    }

    protected override bool OnForceFlush(int timeoutMilliseconds) => _exporter.ForceFlush(timeoutMilliseconds);

    protected override bool OnShutdown(int timeoutMilliseconds) => _exporter.Shutdown(timeoutMilliseconds);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _exporter.Dispose();
            _meter.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>How a rank's traces are sampled: head sampling at the request, plus the tail decision for error traces when it is on.</summary>
public static class MoeTraceSampling
{
    /// <summary>
    /// The sampler for the tracer provider; <paramref name="exporting"/>: spans leave the process (without an exporter nothing
    /// is recorded for the tail). <paramref name="ratio"/> reads the configured head ratio per request (a reloaded
    /// <c>Telemetry:TraceSampleRatio</c>); without it, <paramref name="options"/>' ratio stays.
    /// </summary>
    public static Sampler Sampler(TelemetryHostOptions options, TelemetrySamplingCache sampling, bool exporting, Func<double>? ratio = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        double start = options.TraceSampleRatio;
        ratio ??= () => start;
        return exporting && options.ErrorTraces.Enabled
            ? new ParentBasedSampler(new RequestRootSampler(ratio, sampling, recordUnsampled: true),
                remoteParentSampled: new AlwaysOnSampler(), remoteParentNotSampled: new RecordOnlySampler(requestsOnly: true),
                localParentSampled: new AlwaysOnSampler(), localParentNotSampled: new RecordOnlySampler(requestsOnly: false))
            : new ParentBasedSampler(new RequestRootSampler(ratio, sampling));
    }

    /// <summary><paramref name="exporter"/> behind the tail decision when error traces are on, else as it is.</summary>
    public static BaseProcessor<Activity> Processor(TelemetryHostOptions options, BaseProcessor<Activity> exporter) =>
        options.ErrorTraces.Enabled ? new ErrorTraceProcessor(exporter, options.ErrorTraces) : exporter;
}
