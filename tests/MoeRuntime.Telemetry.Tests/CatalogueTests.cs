using MoeRuntime.Telemetry.Catalogue;

namespace MoeRuntime.Telemetry.Tests;

public class CatalogueTests
{
    [Fact]
    public void NamesAreUniqueAndPrefixed()
    {
        var names = MoeMetrics.All.Select(m => m.Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.StartsWith("moe_", n));
    }

    [Fact]
    public void EveryStaticDefinitionIsListed()
    {
        var declared = typeof(MoeMetrics).GetFields()
            .Where(f => f.FieldType == typeof(MetricDefinition))
            .Select(f => (MetricDefinition)f.GetValue(null)!);
        Assert.All(declared, m => Assert.Contains(m, MoeMetrics.All));
    }

    [Theory]
    [InlineData("moe_requests_total")]
    [InlineData("moe_errors_total")]
    [InlineData("moe_request_retries_total")]
    [InlineData("moe_active_requests")]
    [InlineData("moe_active_streams")]
    [InlineData("moe_queue_depth")]
    [InlineData("moe_queue_wait_seconds")]
    [InlineData("moe_admission_rejects_total")]
    [InlineData("moe_stream_resets_total")]
    [InlineData("moe_request_duration_seconds")]
    [InlineData("moe_time_to_first_token_seconds")]
    [InlineData("moe_time_per_output_token_seconds")]
    [InlineData("moe_prefill_duration_seconds")]
    [InlineData("moe_decode_step_duration_seconds")]
    [InlineData("moe_token_compute_seconds")]
    [InlineData("moe_token_io_seconds")]
    [InlineData("moe_sampler_duration_seconds")]
    [InlineData("moe_tokenizer_duration_seconds")]
    [InlineData("moe_model_load_duration_seconds")]
    [InlineData("moe_startup_phase_duration_seconds")]
    [InlineData("moe_tokens_total")]
    [InlineData("moe_tokens_per_request")]
    [InlineData("moe_request_tokens_per_second")]
    [InlineData("moe_batch_size")]
    [InlineData("moe_token_cost_usd_total")]
    [InlineData("moe_tier_cost_usd_total")]
    [InlineData("moe_expert_hits_total")]
    [InlineData("moe_expert_imbalance_ratio")]
    [InlineData("moe_tier_hits_total")]
    [InlineData("moe_tier_misses_total")]
    [InlineData("moe_tier_cold_miss_ratio")]
    [InlineData("moe_tier_fetch_duration_seconds")]
    [InlineData("moe_dispatch_bytes_total")]
    [InlineData("moe_prefetch_bytes_total")]
    [InlineData("moe_prefetch_outcome_bytes_total")]
    [InlineData("moe_routing_mismatches_total")]
    [InlineData("moe_prefetch_failures_total")]
    [InlineData("moe_evictions_total")]
    [InlineData("moe_tier_memory_bytes")]
    [InlineData("moe_tier_occupancy_ratio")]
    [InlineData("moe_kv_cache_bytes")]
    [InlineData("moe_kv_cache_hit_ratio")]
    [InlineData("moe_layer_compute_time_seconds_total")]
    [InlineData("moe_expert_compute_time_seconds_total")]
    [InlineData("moe_telemetry_access_denials_total")]
    [InlineData("moe_integrity_check_failures_total")]
    public void TheIssuesMetricsAreCatalogued(string name) => Assert.True(MoeMetrics.TryGet(name, out _));

    [Fact]
    public void TheExpertLabelAppearsOnlyOnTheLayerByExpertMatrices()
    {
        var withExpert = MoeMetrics.All.Where(m => m.Labels.Contains(MetricLabels.Expert)).Select(m => m.Name).Order();
        Assert.Equal(["moe_expert_compute_time_seconds_total", "moe_expert_hits_total"], withExpert);
        Assert.All(MoeMetrics.All.Where(m => m.Labels.Contains(MetricLabels.Expert)),
            m => Assert.Equal(MetricLabels.ExpertLabelBound, m.MaxSeries));
    }

    [Fact]
    public void EveryLabelIsClosedOrBounded() =>
        Assert.All(MoeMetrics.All.SelectMany(m => m.Labels), l => Assert.False(string.IsNullOrWhiteSpace(l.Bound)));

    [Fact]
    public void DurationsAreInSeconds() =>
        Assert.All(MoeMetrics.All.Where(m => m.Name.EndsWith("_seconds", StringComparison.Ordinal)), m => Assert.Equal("s", m.Unit));

    [Fact]
    public void TimeToFirstTokenBucketsIncludeTheSeedsAndOpenTelemetryGenAi()
    {
        double[] seed = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
        double[] genAi = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
        Assert.Superset(seed.Concat(genAi).ToHashSet(), MoeMetrics.TimeToFirstTokenSeconds.Buckets.ToHashSet());
    }

    [Fact]
    public void TimePerOutputTokenBucketsIncludeOpenTelemetryGenAi()
    {
        double[] genAi = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];
        Assert.Superset(genAi.ToHashSet(), MoeMetrics.TimePerOutputTokenSeconds.Buckets.ToHashSet());
        Assert.True(MoeMetrics.TimePerOutputTokenSeconds.SampledPerToken);
    }

    [Fact]
    public void RequestBucketsHaveTheSloThresholdsAsBounds()
    {
        Assert.Contains(0.4, MoeMetrics.RequestDurationSeconds.Buckets);
        Assert.Contains(1.2, MoeMetrics.RequestDurationSeconds.Buckets);
        Assert.Contains(2.0, MoeMetrics.RequestDurationSeconds.Buckets);
        Assert.Contains(0.8, MoeMetrics.TimeToFirstTokenSeconds.Buckets);
    }

    [Theory]
    [InlineData("vllm_requests_total", MetricKind.Counter)]
    [InlineData("moe_Requests_total", MetricKind.Counter)]
    [InlineData("moe_requests", MetricKind.Counter)]
    [InlineData("moe_requests_total", MetricKind.Gauge)]
    public void BadNamesAreRefused(string name, MetricKind kind) =>
        Assert.Throws<ArgumentException>(() => new MetricDefinition(name, kind, "1", "help", []));

    [Fact]
    public void HistogramsNeedIncreasingBuckets()
    {
        Assert.Throws<ArgumentException>(() => new MetricDefinition("moe_x_seconds", MetricKind.Histogram, "s", "h", [], [0.1, 0.1]));
        Assert.Throws<ArgumentException>(() => new MetricDefinition("moe_x_seconds", MetricKind.Histogram, "s", "h", []));
    }

    [Fact]
    public void TheExpertLabelIsRefusedOutsideMatrices() =>
        Assert.Throws<ArgumentException>(() =>
            new MetricDefinition("moe_x_total", MetricKind.Counter, "1", "h", [MetricLabels.Layer, MetricLabels.Expert]));

    [Fact]
    public void CountersAreNeverSampled() =>
        Assert.Throws<ArgumentException>(() =>
            new MetricDefinition("moe_x_total", MetricKind.Counter, "1", "h", [], sampledPerToken: true));

    [Fact]
    public void TheCommittedMetricsDocumentMatchesTheCatalogue()
    {
        var path = Path.Combine(RepositoryRoot.Find(), MetricsDocument.RelativePath);
        var generated = MetricsDocument.Render(MoeMetrics.All);
        if (Environment.GetEnvironmentVariable("MOE_REGENERATE_DOCS") == "1") File.WriteAllText(path, generated);
        Assert.True(File.Exists(path), $"{path} is missing: run the tests with MOE_REGENERATE_DOCS=1.");
        Assert.True(generated == File.ReadAllText(path),
            $"{MetricsDocument.RelativePath} differs from the catalogue: run the tests with MOE_REGENERATE_DOCS=1 and commit it.");
    }

    [Theory]
    [InlineData(1, "1")]
    [InlineData(2, "2-4")]
    [InlineData(4, "2-4")]
    [InlineData(5, "5-16")]
    [InlineData(16, "5-16")]
    [InlineData(17, "17-64")]
    [InlineData(64, "17-64")]
    [InlineData(65, "65+")]
    [InlineData(10_000, "65+")]
    public void BatchSizesFallInTheirCataloguedRange(int sequences, string bucket)
    {
        Assert.Equal(bucket, MetricLabels.BatchSizeOf(sequences));
        Assert.Contains(bucket, MetricLabels.BatchSizeBucket.Values);
    }

    [Theory]
    [InlineData(1, "1-512")]
    [InlineData(512, "1-512")]
    [InlineData(513, "513-2048")]
    [InlineData(2048, "513-2048")]
    [InlineData(2049, "2049-8192")]
    [InlineData(8193, "8193-32768")]
    [InlineData(32768, "8193-32768")]
    [InlineData(32769, "32769+")]
    public void ContextLengthsFallInTheirCataloguedRange(int positions, string bucket)
    {
        Assert.Equal(bucket, MetricLabels.ContextLengthOf(positions));
        Assert.Contains(bucket, MetricLabels.ContextLengthBucket.Values);
    }

    [Fact]
    public void AnEmptyStepHasNoRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MetricLabels.BatchSizeOf(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MetricLabels.ContextLengthOf(0));
    }
}
