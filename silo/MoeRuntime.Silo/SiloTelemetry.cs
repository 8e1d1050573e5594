using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Generation;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace MoeRuntime.Silo;

/// <summary>OpenTelemetry and logging for one rank: our spans and Orleans' own, trace ids in every log line.</summary>
static class SiloTelemetry
{
    public static WebApplicationBuilder AddSiloTelemetry(this WebApplicationBuilder builder, TelemetryHostOptions options, int rank)
    {
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        if (options.JsonLogs)
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        // stderr, so that stdout carries only generated text (--prompt) and can be piped.
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        // /metrics already carries the catalogue's families; the OTel copy of them, and the error traces' counts, are for OTLP only.
        Prometheus.Metrics.ConfigureMeterAdapter(o =>
            o.InstrumentFilterPredicate = instrument => instrument.Meter.Name is not (MoeRuntime.Telemetry.Export.OpenTelemetryBridge.MeterName or ErrorTraceProcessor.MeterName));
        bool otlp = !string.IsNullOrWhiteSpace(options.OtlpEndpoint);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("moe-silo", serviceInstanceId: $"rank-{rank}"))
            .WithTracing(tracing =>
            {
                tracing.AddSource(ServingTracing.SourceName, GenerationTracing.SourceName, "Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application")
                    .SetSampler(sp =>
                    {
                        // Head sampling follows a reloaded Telemetry:TraceSampleRatio (docs/configuration.md, "Live reload").
                        IOptionsMonitor<TelemetryHostOptions> live = sp.GetRequiredService<IOptionsMonitor<TelemetryHostOptions>>();
                        return MoeTraceSampling.Sampler(options, sp.GetRequiredService<TelemetrySamplingCache>(), exporting: otlp,
                            ratio: () => live.CurrentValue.TraceSampleRatio);
                    });
                // The exporter behind the tail decision, so failed and slow requests' spans reach it even when head sampling passed them over.
                if (otlp)
                    tracing.AddProcessor(_ => MoeTraceSampling.Processor(options,
                        new BatchActivityExportProcessor(new OtlpTraceExporter(new OtlpExporterOptions { Endpoint = new Uri(options.OtlpEndpoint) }))));
            })
            .WithMetrics(metrics =>
            {
                metrics.AddMeter("Microsoft.Orleans", MoeRuntime.Telemetry.Export.OpenTelemetryBridge.MeterName, ErrorTraceProcessor.MeterName);
                if (otlp) metrics.AddOtlpExporter(o => o.Endpoint = new Uri(options.OtlpEndpoint));
            });
        return builder;
    }
}
