using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Trace;

namespace MoeRuntime.Grains.Tests;

/// <summary>Other tests' activity listeners would record every span of the process: these run alone.</summary>
[CollectionDefinition(nameof(ActivityListenerCollection), DisableParallelization = true)]
public sealed class ActivityListenerCollection;

/// <summary>The tail decision: a request head sampling passed over still exports its spans when it fails or runs slow.</summary>
[Collection(nameof(ActivityListenerCollection))]
public sealed class ErrorTraceTests
{
    [Fact]
    public void AFailedRequestExportsItsSpansWithHeadSamplingAtZero()
    {
        using var trace = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 0 });
        ActivityTraceId id = Request(fail: true, children: 2);

        Assert.Equal(["moe.request", "moe.stage", "moe.stage"], trace.Exported.Where(s => s.TraceId == id).Select(s => s.OperationName).Order());
        Assert.All(trace.Exported, s => Assert.True(s.Recorded));
        Assert.Equal("error", trace.Exported.Single(s => s.OperationName == "moe.request").GetTagItem("moe.trace.kept"));
        Assert.Equal(1, trace.Tail!.Buffer.KeptTraces);
    }

    [Fact]
    public void AFastSuccessfulRequestExportsNothing()
    {
        using var trace = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 0 });
        Request(fail: false, children: 3);

        Assert.Empty(trace.Exported);
        Assert.Equal((0L, 1L, 0), (trace.Tail!.Buffer.KeptTraces, trace.Tail.Buffer.DiscardedTraces, trace.Tail.Buffer.BufferedTraces));
    }

    [Fact]
    public void ASlowSuccessfulRequestIsKept()
    {
        using var trace = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 0, ErrorTraces = { SlowRequestSeconds = 30 } });
        ActivityTraceId id = Request(fail: false, children: 1, started: DateTime.UtcNow.AddMinutes(-1));

        Assert.Equal(2, trace.Exported.Count(s => s.TraceId == id));
        Assert.Equal("slow", trace.Exported.Single(s => s.OperationName == "moe.request").GetTagItem("moe.trace.kept"));
    }

    [Fact]
    public void HeadSampledRequestsExportAsBeforeAndWithErrorTracesOffFailuresAreLost()
    {
        using (var sampled = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 1 }))
        {
            ActivityTraceId id = Request(fail: false, children: 1);
            Assert.Equal(2, sampled.Exported.Count(s => s.TraceId == id));
        }
        using var off = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 0, ErrorTraces = { Enabled = false } });
        Request(fail: true, children: 1);
        Assert.Empty(off.Exported);
        Assert.Null(off.Tail);
    }

    [Fact]
    public void TheBufferIsBoundedAndCountsWhatItDrops()
    {
        using var trace = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 0, ErrorTraces = { MaxSpansPerRequest = 2, MaxBufferedRequests = 1 } });
        ActivityTraceId id = Request(fail: true, children: 5);

        Assert.Equal(3, trace.Exported.Count(s => s.TraceId == id)); // two children and the request
        Assert.Equal(3, trace.Tail!.Buffer.DroppedSpans);

        // Two requests in flight with room for one: the older one's spans make room, and are counted.
        using (Activity first = ServingTracing.Source.StartActivity("moe.request", ActivityKind.Server)!)
        {
            using (ServingTracing.Source.StartActivity("moe.stage")) { }
            Activity.Current = null;
            using (Activity second = ServingTracing.Source.StartActivity("moe.request", ActivityKind.Server)!)
            {
                using (ServingTracing.Source.StartActivity("moe.stage")) { }
            }
            Activity.Current = first;
            first.SetStatus(ActivityStatusCode.Error);
        }
        Assert.Equal(4, trace.Tail.Buffer.DroppedSpans);

        // The counts leave the process as the meter's instruments (what the silo exports over OTLP).
        var observed = new Dictionary<string, long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ErrorTraceProcessor.MeterName) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name + string.Concat(tags.ToArray().Select(t => $"/{t.Value}"));
            lock (observed) observed[key] = value;
        });
        listener.Start();
        listener.RecordObservableInstruments();
        Assert.Equal(4, observed["moe_error_trace_spans_dropped_total"]);
        Assert.Equal(2, observed["moe_error_trace_decisions_total/kept"]);
        Assert.Equal(1, observed["moe_error_trace_decisions_total/discarded"]);
    }

    [Fact]
    public void ASpanThatEndsAfterItsRequestFollowsTheDecision()
    {
        using var trace = new TracedRank(new TelemetryHostOptions { TraceSampleRatio = 0 });
        Activity request = ServingTracing.Source.StartActivity("moe.request", ActivityKind.Server)!;
        Activity late = ServingTracing.Source.StartActivity("moe.stage")!;
        Activity.Current = request;
        request.SetStatus(ActivityStatusCode.Error);
        request.Stop();
        late.Stop();

        Assert.Equal(["moe.request", "moe.stage"], trace.Exported.Select(s => s.OperationName).Order());
    }

    /// <summary>A request span with <paramref name="children"/> stage spans under it; returns its trace.</summary>
    static ActivityTraceId Request(bool fail, int children, DateTime? started = null)
    {
        Activity.Current = null;
        using Activity request = ServingTracing.Source.StartActivity("moe.request", ActivityKind.Server)!;
        Assert.NotNull(request); // recorded even when head sampling passed it over (or sampled)
        if (started is { } at) request.SetStartTime(at);
        for (int i = 0; i < children; i++)
            using (ServingTracing.Source.StartActivity("moe.stage")) { }
        if (fail) request.SetStatus(ActivityStatusCode.Error, "InvalidRequest");
        return request.TraceId;
    }

    /// <summary>A tracer provider wired as the silo wires it, exporting into a list.</summary>
    sealed class TracedRank : IDisposable
    {
        readonly TracerProvider _provider;

        public TracedRank(TelemetryHostOptions options)
        {
            var sampling = new TelemetrySamplingCache(null!, null!, Options.Create(new MoeSiloOptions { Control = { Enabled = false } }),
                NullLogger<TelemetrySamplingCache>.Instance);
            BaseProcessor<Activity> processor = MoeTraceSampling.Processor(options, new SimpleActivityExportProcessor(new ListExporter(Exported)));
            Tail = processor as ErrorTraceProcessor;
            _provider = Sdk.CreateTracerProviderBuilder()
                .AddSource(ServingTracing.SourceName)
                .SetSampler(MoeTraceSampling.Sampler(options, sampling, exporting: true))
                .AddProcessor(processor)
                .Build()!;
        }

        public List<Activity> Exported { get; } = [];
        public ErrorTraceProcessor? Tail { get; }

        public void Dispose() => _provider.Dispose();
    }

    sealed class ListExporter(List<Activity> into) : BaseExporter<Activity>
    {
        public override ExportResult Export(in Batch<Activity> batch)
        {
            lock (into)
                foreach (Activity span in batch) into.Add(span);
            return ExportResult.Success;
        }
    }
}
