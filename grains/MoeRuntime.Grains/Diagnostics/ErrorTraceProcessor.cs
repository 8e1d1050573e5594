using System.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Tracing;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>
/// The tail decision for error traces at the router: spans head sampling sampled go straight to
/// <paramref name="exporter"/>; spans only recorded (a request head sampling passed over, and its local children)
/// are held per request in a bounded <see cref="TailTraceBuffer{TKey, TSpan}"/> until its <c>moe.request</c> span
/// ends. A request that failed (status error) or took at least <see cref="ErrorTraceOptions.SlowRequestSeconds"/>
/// has its spans marked sampled and exported; the rest are discarded. Only spans of this rank's process are held:
/// the request's calls to grains on other ranks are not sampled there.
/// </summary>
public sealed class ErrorTraceProcessor(BaseProcessor<Activity> exporter, ErrorTraceOptions options) : BaseProcessor<Activity>
{
    readonly TailTraceBuffer<ActivityTraceId, Activity> _buffer = new(options.MaxBufferedRequests, options.MaxSpansPerRequest);
    readonly TimeSpan _slow = TimeSpan.FromSeconds(options.SlowRequestSeconds);

    /// <summary>Counts of what the tail decision did (kept, discarded, dropped for room).</summary>
    public TailTraceBuffer<ActivityTraceId, Activity> Buffer => _buffer;

    public override void OnStart(Activity data) => exporter.OnStart(data);

    public override void OnEnd(Activity data)
    {
        if (data.Recorded)
        {
            exporter.OnEnd(data);
            return;
        }
        if (!data.IsAllDataRequested) return;
        if (data.OperationName == "moe.request" && data.Source.Name == ServingTracing.SourceName)
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
        exporter.OnEnd(span);
    }

    protected override bool OnForceFlush(int timeoutMilliseconds) => exporter.ForceFlush(timeoutMilliseconds);

    protected override bool OnShutdown(int timeoutMilliseconds) => exporter.Shutdown(timeoutMilliseconds);

    protected override void Dispose(bool disposing)
    {
        if (disposing) exporter.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>How a rank's traces are sampled: head sampling at the request, plus the tail decision for error traces when it is on.</summary>
public static class MoeTraceSampling
{
    /// <summary>The sampler for the tracer provider; <paramref name="exporting"/>: spans leave the process (without an exporter nothing is recorded for the tail).</summary>
    public static Sampler Sampler(TelemetryHostOptions options, TelemetrySamplingCache sampling, bool exporting) => exporting && options.ErrorTraces.Enabled
        ? new ParentBasedSampler(new RequestRootSampler(options.TraceSampleRatio, sampling, recordUnsampled: true),
            remoteParentSampled: new AlwaysOnSampler(), remoteParentNotSampled: new RecordOnlySampler(requestsOnly: true),
            localParentSampled: new AlwaysOnSampler(), localParentNotSampled: new RecordOnlySampler(requestsOnly: false))
        : new ParentBasedSampler(new RequestRootSampler(options.TraceSampleRatio, sampling));

    /// <summary><paramref name="exporter"/> behind the tail decision when error traces are on, else as it is.</summary>
    public static BaseProcessor<Activity> Processor(TelemetryHostOptions options, BaseProcessor<Activity> exporter) =>
        options.ErrorTraces.Enabled ? new ErrorTraceProcessor(exporter, options.ErrorTraces) : exporter;
}
