using System.Text;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Export;
using MoeRuntime.Telemetry.Tests.Aggregation;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace MoeRuntime.Telemetry.Tests.Export;

/// <summary>The OpenTelemetry bridge exported over OTLP/HTTP protobuf to a receiver on 127.0.0.1, decoded field by field.</summary>
public sealed class OtlpExportTests
{
    // OTLP field numbers (opentelemetry/proto/metrics/v1/metrics.proto).
    const int ResourceMetrics = 1, ScopeMetrics = 2, Metrics = 2, MetricName = 1, MetricSum = 7, MetricHistogram = 9;
    const int DataPoints = 1, PointAttributes = 9, PointCount = 4, PointSum = 5, PointBucketCounts = 6, PointBounds = 7;

    [Fact]
    public void DistributionsArriveAsHistogramsWithTheCataloguesBucketsBesideTheCounters()
    {
        using var receiver = new OtlpReceiver();
        using var bridge = new OpenTelemetryBridge("tiny-moe", "3");
        // Histograms take recordings only while a listener is there: the provider starts first, as in the silo.
        using (MeterProvider provider = Sdk.CreateMeterProviderBuilder()
                   .AddMeter(OpenTelemetryBridge.MeterName)
                   .AddOtlpExporter((exporter, reader) =>
                   {
                       exporter.Endpoint = new Uri(receiver.Url + "v1/metrics");
                       exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
                       reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = 3_600_000;
                   })
                   .Build()!)
        {
            var rank = new SimulatedRank("rank-3");
            SketchHandle duration = rank.Collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate");
            for (int i = 0; i < 40; i++) duration.Record(0.3);
            for (int i = 0; i < 10; i++) duration.Record(3.0);
            rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none").Add(50);
            bridge.Add(rank.Report(TimeSpan.FromSeconds(1)));
            duration.Record(0.3); // a second interval adds to the same series
            bridge.Add(rank.Report(TimeSpan.FromSeconds(1)));
            Assert.True(provider.ForceFlush(10_000));
        }

        // The flush, then the provider's last export as it is disposed: both cumulative, read the first.
        Assert.True(receiver.Requests.TryDequeue(out var request));
        var (path, body) = request;
        Assert.Equal("/v1/metrics", path);
        var metrics = (from resource in Nested(ProtoFields.Read(body), ResourceMetrics)
                       from scope in Nested(resource, ScopeMetrics)
                       from metric in Nested(scope, Metrics)
                       select metric).ToList();
        List<ProtoFields.Field> Metric(string name) =>
            Assert.Single(metrics, m => m.Any(f => f.Number == MetricName && Encoding.UTF8.GetString(f.Bytes) == name));

        List<ProtoFields.Field> point = Assert.Single(Nested(Nested(Metric("moe_request_duration_seconds"), MetricHistogram).Single(), DataPoints));
        Assert.Equal(51UL, point.Single(f => f.Number == PointCount).Number64);
        Assert.Equal(40 * 0.3 + 10 * 3.0 + 0.3, BitConverter.UInt64BitsToDouble(point.Single(f => f.Number == PointSum).Number64), 0.01 * 42.3);
        double[] bounds = ProtoFields.Packed64(point.Single(f => f.Number == PointBounds).Bytes).Select(BitConverter.UInt64BitsToDouble).ToArray();
        Assert.Equal(MoeMetrics.RequestDurationSeconds.Buckets, bounds);
        ulong[] counts = ProtoFields.Packed64(point.Single(f => f.Number == PointBucketCounts).Bytes);
        Assert.Equal(41UL, counts[BucketOf(bounds, 0.3)]);
        Assert.Equal(10UL, counts[BucketOf(bounds, 3.0)]);
        string attributes = string.Join(' ', point.Where(f => f.Number == PointAttributes).Select(f => Encoding.UTF8.GetString(f.Bytes)));
        Assert.Contains("route", attributes);
        Assert.Contains("generate", attributes);

        Assert.NotEmpty(Nested(Metric("moe_requests_total"), MetricSum));
    }

    static IEnumerable<List<ProtoFields.Field>> Nested(List<ProtoFields.Field> message, int number) =>
        message.Where(f => f.Number == number && f.WireType == 2).Select(f => ProtoFields.Read(f.Bytes));

    /// <summary>The OTLP bucket of <paramref name="value"/>: bucket i holds (bounds[i-1], bounds[i]].</summary>
    static int BucketOf(double[] bounds, double value)
    {
        int i = 0;
        while (i < bounds.Length && value > bounds[i]) i++;
        return i;
    }
}
