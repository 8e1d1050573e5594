using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Grains.Tests;

/// <summary>What the rank reads off its tier store each interval becomes counter deltas that only go up.</summary>
public sealed class RankTelemetryTests
{
    const long ExpertBytes = 3 << 20;

    static TierStoreSnapshot Snapshot(TierStoreCounters counters) => new("default", null,
        [new ExpertResidency(new ExpertKey("default", 0, 0), Tier.Warm, Tier.Warm, false, ExpertBytes, ExpertBytes, 0, false)],
        new TierUsage(0, 16 * ExpertBytes, 0), new TierUsage(0, 32 * ExpertBytes, 0), counters);

    [Theory]
    [InlineData(Tier.Hot, StorageTier.Hot)]
    [InlineData(Tier.Warm, StorageTier.Warm)]
    [InlineData(Tier.Cold, StorageTier.Cold)]
    public void EveryStoreTierMapsToTheTelemetryTierOfItsName(Tier tier, StorageTier expected)
    {
        Assert.Equal(expected, RankTelemetry.StorageTierOf(tier));
        Assert.Equal(TierNames.Of(tier), expected.ToString().ToLowerInvariant());
    }

    [Fact]
    public void EveryStoreTierIsMapped() =>
        Assert.Equal(Enum.GetValues<StorageTier>(), Enum.GetValues<Tier>().Select(RankTelemetry.StorageTierOf));

    [Fact]
    public void PrefetchBytesCountIssuedHintsOnlyEvenInAnIntervalOfSkips()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));

        // Two hints issued, then an interval where the hot tier had no room: only skips, no issue. Skips moved no bytes.
        telemetry.ObserveStore(Snapshot(new TierStoreCounters { PrefetchIssued = 2, PrefetchSkipped = 1 }));
        double first = PrefetchBytes(collector);
        telemetry.ObserveStore(Snapshot(new TierStoreCounters { PrefetchIssued = 2, PrefetchSkipped = 5 }));
        double second = PrefetchBytes(collector);

        Assert.Equal((2.0 * ExpertBytes, 0.0), (first, second));
    }

    [Fact]
    public void AFailedIntervalIsCountedAsDroppedTelemetry()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.IntervalFailed();
        telemetry.IntervalFailed();
        CounterDelta dropped = Assert.Single(collector.CollectSummary().Counters, c => c.Metric == MoeMetrics.TelemetryDroppedTotal);
        Assert.Equal(["interval_failed"], dropped.Labels);
        Assert.Equal(2.0, dropped.Delta);
    }

    [Fact]
    public void AResumedRequestIsCountedByRouteAndReason()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.RequestResumed("stream", ResumeReasons.RankLost);
        telemetry.RequestResumed("stream", ResumeReasons.RankLost);
        telemetry.RequestResumed("generate", ResumeReasons.ShuttingDown);
        var resumed = collector.CollectSummary().Counters.Where(c => c.Metric == MoeMetrics.RequestsResumedTotal && c.Delta > 0)
            .ToDictionary(c => string.Join("/", c.Labels), c => c.Delta);
        Assert.Equal(new Dictionary<string, double> { ["stream/rank_lost"] = 2, ["generate/shutting_down"] = 1 }, resumed);
    }

    [Fact]
    public void QuarantinedExpertCopiesAreCountedByReason()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.ExpertQuarantined(QuarantineReason.Nan);
        telemetry.ExpertQuarantined(QuarantineReason.Integrity);
        telemetry.ExpertQuarantined(QuarantineReason.Integrity);
        telemetry.ExpertQuarantined(QuarantineReason.Digest);
        var quarantined = collector.CollectSummary().Counters.Where(c => c.Metric == MoeMetrics.ExpertQuarantinedTotal && c.Delta > 0)
            .ToDictionary(c => c.Labels.Single(), c => c.Delta);
        Assert.Equal(new Dictionary<string, double> { ["nan"] = 1, ["integrity"] = 2, ["digest"] = 1 }, quarantined);
    }

    [Fact]
    public void BuildInfoAndProcessMemoryAreGaugesOfTheSummary()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.Built("cpu");
        telemetry.ObserveProcess();
        RankSummary summary = collector.CollectSummary();

        GaugeValue build = Assert.Single(summary.Gauges, g => g.Metric == MoeMetrics.BuildInfo);
        Assert.Equal(1.0, build.Value);
        Assert.Equal("cpu", build.Labels[2]);
        Assert.NotEqual(BuildVersion.Unknown, build.Labels[0]);
        var memory = summary.Gauges.Where(g => g.Metric == MoeMetrics.ProcessMemoryBytes).ToDictionary(g => g.Labels[0], g => g.Value);
        Assert.Equal(["managed_heap", "resident"], memory.Keys.Order(StringComparer.Ordinal));
        Assert.True(memory["resident"] > 0 && memory["managed_heap"] > 0, string.Join(", ", memory));
    }

    [Fact]
    public void ModelInfoCarriesTheRevisionAndManifestDigestOrSaysWhichIsMissing()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()));
        telemetry.Serving("v2.1", "ab12");
        GaugeValue info = Assert.Single(collector.CollectSummary().Gauges, g => g.Metric == MoeMetrics.ModelInfo);
        Assert.Equal((1.0, "v2.1", "ab12"), (info.Value, info.Labels[0], info.Labels[1]));

        var bare = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        new RankTelemetry(bare, Options.Create(new TelemetryOptions())).Serving(" ", null);
        GaugeValue unnamed = Assert.Single(bare.CollectSummary().Gauges, g => g.Metric == MoeMetrics.ModelInfo);
        Assert.Equal(["unknown", "none"], unnamed.Labels);
    }

    [Fact]
    public void NothingIsRecordedWhenTelemetryIsOff()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions { Enabled = false }));
        telemetry.Built("cpu");
        telemetry.ObserveProcess();
        Assert.DoesNotContain(collector.CollectSummary().Gauges, g => g.Metric == MoeMetrics.BuildInfo || g.Value != 0);
    }

    [Fact]
    public void StepLatencyCarriesItsBatchSizeAndContextRangesAndComputeTimeItsDevice()
    {
        var collector = new RankCollector(new RankCollectorOptions { RankId = "0", Model = "default", Layers = 1, Experts = 1 });
        var telemetry = new RankTelemetry(collector, Options.Create(new TelemetryOptions()), device: "cuda");
        telemetry.StepCompleted(3, 0, 3, 2100, TimeSpan.FromMilliseconds(5), TimeSpan.Zero, 0, longestContext: 700);
        telemetry.StepCompleted(1, 1, 40, 0, TimeSpan.FromMilliseconds(9), TimeSpan.Zero, 0, longestContext: 40);
        telemetry.AttentionComputed(0, TimeSpan.FromMilliseconds(1), tokens: 4);
        RankSummary summary = collector.CollectSummary();

        string Labels(MetricDefinition metric) => string.Join("/", Assert.Single(summary.Sketches, s => s.Metric == metric).Labels);
        Assert.Equal("2-4/513-2048", Labels(MoeMetrics.DecodeStepSeconds));
        Assert.Equal("1/1-512", Labels(MoeMetrics.PrefillSeconds));
        Assert.Equal("attention/cuda", Labels(MoeMetrics.TokenComputeSeconds));
    }

    static double PrefetchBytes(RankCollector collector) =>
        collector.CollectSummary().Counters.Where(c => c.Metric == MoeMetrics.PrefetchBytesTotal).Sum(c => c.Delta);
}
