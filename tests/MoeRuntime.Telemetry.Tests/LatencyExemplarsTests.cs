using System.Diagnostics;
using System.Text;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Export;
using MoeRuntime.Telemetry.Summaries;
using Prometheus;

namespace MoeRuntime.Telemetry.Tests;

/// <summary>
/// Trace-id exemplars on the latency histograms: one slot per catalogue bucket, the newest traced observation wins, and
/// the Prometheus export attaches each to one observation of its bucket (OpenMetrics only) without changing a count.
/// </summary>
public class LatencyExemplarsTests
{
    static readonly ActivityTraceId TraceA = ActivityTraceId.CreateFromString("0af7651916cd43dd8448eb211c80319c");
    static readonly ActivityTraceId TraceB = ActivityTraceId.CreateFromString("4bf92f3577b34da6a3ce929d0e0e4736");
    static readonly ActivitySpanId Span = ActivitySpanId.CreateFromString("b7ad6b7169203331");

    [Theory]
    [InlineData(0.0005, 0)]
    [InlineData(0.001, 0)]
    [InlineData(0.0011, 1)]
    [InlineData(0.8, 13)]
    [InlineData(10, 18)]
    [InlineData(11, 19)]
    public void AValueFallsInTheBucketPrometheusCountsItIn(double value, int bucket)
    {
        ExemplarHandle handle = new LatencyExemplars().Register(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        Assert.Equal(bucket, handle.BucketOf(value));
    }

    [Fact]
    public void TheNewestTracedObservationOfABucketIsTakenOnce()
    {
        ExemplarHandle handle = new LatencyExemplars().Register(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        handle.Offer(0.3, TraceA, Span);
        handle.Offer(0.4, TraceB, Span);
        handle.Offer(3, TraceA, Span);

        IReadOnlyList<LatencyExemplar> taken = handle.TakeNew();
        Assert.Equal([(0.4, TraceB), (3.0, TraceA)], taken.Select(e => (e.Value, e.TraceId)));
        Assert.Empty(handle.TakeNew());
    }

    [Fact]
    public void AReturnedExemplarComesBackUnlessANewerOneReplacedIt()
    {
        ExemplarHandle handle = new LatencyExemplars().Register(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        handle.Offer(0.3, TraceA, Span);
        handle.Offer(3, TraceA, Span);
        IReadOnlyList<LatencyExemplar> taken = handle.TakeNew();
        handle.Offer(0.35, TraceB, Span);
        foreach (LatencyExemplar exemplar in taken) handle.Return(exemplar);

        Assert.Equal([(0.35, TraceB), (3.0, TraceA)], handle.TakeNew().Select(e => (e.Value, e.TraceId)));
    }

    [Fact]
    public void UntracedOrNotFiniteObservationsAreNotKept()
    {
        ExemplarHandle handle = new LatencyExemplars().Register(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        handle.Offer(0.3, default, Span);
        handle.Offer(double.NaN, TraceA, Span);
        handle.Offer(double.PositiveInfinity, TraceA, Span);
        Assert.Empty(handle.TakeNew());
    }

    [Fact]
    public void RegisteringIsOncePerSeriesAndChecksTheMetric()
    {
        var exemplars = new LatencyExemplars();
        Assert.Same(exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds, "stream"), exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds, "stream"));
        Assert.NotSame(exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds, "stream"), exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds, "generate"));
        Assert.Null(exemplars.Find(MoeMetrics.RequestDurationSeconds, ["stream"]));

        var notHistogram = Assert.Throws<ArgumentException>(() => exemplars.Register(MoeMetrics.RequestsTotal, "stream", "success", "none"));
        Assert.Contains("moe_requests_total", notHistogram.Message);
        var labels = Assert.Throws<ArgumentException>(() => exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds));
        Assert.Contains("moe_time_to_first_token_seconds has 1 labels (route), not 0 values", labels.Message);
    }

    [Fact]
    public async Task OpenMetricsShowsTheTraceOnTheBucketAndTheCountsStayTheSketches()
    {
        var exemplars = new LatencyExemplars();
        var collector = NewCollector();
        SketchHandle ttft = collector.Histogram(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        ExemplarHandle slots = exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds, "stream");
        foreach (double v in new[] { 0.03, 0.3, 0.31, 0.32, 3.2 }) ttft.Record(v);
        slots.Offer(3.2, TraceA, Span);
        slots.Offer(0.31, TraceB, Span);
        // Offered between the interval's snapshot and the export: its observation is in the next interval.
        RankSummary first = collector.CollectSummary();
        slots.Offer(7.9, TraceB, Span);

        var withExemplars = new CollectorRegistry();
        var withoutExemplars = new CollectorRegistry();
        var exporter = new PrometheusExporter(withExemplars, "tiny-moe", "0", 4, 8, exemplars);
        exporter.Add(first);
        new PrometheusExporter(withoutExemplars, "tiny-moe", "0", 4, 8).Add(first);

        string open = await ExportAsync(withExemplars, ExpositionFormat.OpenMetricsText);
        Assert.Contains($"moe_time_to_first_token_seconds_bucket{{model=\"tiny-moe\",rank=\"0\",route=\"stream\",le=\"5.0\"}} 5 # {{trace_id=\"{TraceA.ToHexString()}\",span_id=\"{Span.ToHexString()}\"}} 3.2", open);
        Assert.Contains($"le=\"0.5\"}} 4 # {{trace_id=\"{TraceB.ToHexString()}\"", open);
        // No exemplar carries the late value (matched as an exemplar's value: a bare "7.9" can occur in its timestamp).
        Assert.DoesNotContain("\"} 7.9 ", open);
        // Every bucket count and the count are those the replay gives without exemplars.
        Assert.Equal(Series(await ExportAsync(withoutExemplars, ExpositionFormat.PrometheusText), "_bucket"),
            Series(await ExportAsync(withExemplars, ExpositionFormat.PrometheusText), "_bucket"));
        Assert.Equal(Series(await ExportAsync(withoutExemplars, ExpositionFormat.PrometheusText), "_count"),
            Series(await ExportAsync(withExemplars, ExpositionFormat.PrometheusText), "_count"));

        // The next interval holds the 7.9 s observation: its exemplar, kept back, is shown now.
        ttft.Record(7.9);
        exporter.Add(collector.CollectSummary());
        open = await ExportAsync(withExemplars, ExpositionFormat.OpenMetricsText);
        Assert.Contains($"le=\"10.0\"}} 6 # {{trace_id=\"{TraceB.ToHexString()}\",span_id=\"{Span.ToHexString()}\"}} 7.9", open);
    }

    [Fact]
    public async Task ThePrometheusTextFormatCarriesNoExemplar()
    {
        var exemplars = new LatencyExemplars();
        var collector = NewCollector();
        collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate").Record(1.5);
        exemplars.Register(MoeMetrics.RequestDurationSeconds, "generate").Offer(1.5, TraceA, Span);
        var registry = new CollectorRegistry();
        new PrometheusExporter(registry, "tiny-moe", "0", 4, 8, exemplars).Add(collector.CollectSummary());

        string text = await ExportAsync(registry, ExpositionFormat.PrometheusText);
        Assert.Contains("moe_request_duration_seconds_count{model=\"tiny-moe\",rank=\"0\",route=\"generate\"} 1", text);
        Assert.DoesNotContain("trace_id", text);
        Assert.Contains("trace_id", await ExportAsync(registry, ExpositionFormat.OpenMetricsText));
    }

    [Fact]
    public async Task AnActivityCurrentDuringTheExportLeavesNoExemplar()
    {
        var collector = NewCollector();
        collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate").Record(1.5);
        var registry = new CollectorRegistry();
        using (var activity = new Activity("interval").SetIdFormat(ActivityIdFormat.W3C).Start())
            new PrometheusExporter(registry, "tiny-moe", "0", 4, 8, new LatencyExemplars()).Add(collector.CollectSummary());

        Assert.DoesNotContain("trace_id", await ExportAsync(registry, ExpositionFormat.OpenMetricsText));
    }

    static RankCollector NewCollector() => new(new RankCollectorOptions { RankId = "rank-0", Model = "tiny-moe", Layers = 4, Experts = 8 });

    static async Task<string> ExportAsync(CollectorRegistry registry, ExpositionFormat format)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream, format);
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The lines of the TTFT family ending in <paramref name="suffix"/>, as they are.</summary>
    static string[] Series(string text, string suffix) =>
        text.Split('\n').Where(l => l.StartsWith($"moe_time_to_first_token_seconds{suffix}", StringComparison.Ordinal)).ToArray();
}
