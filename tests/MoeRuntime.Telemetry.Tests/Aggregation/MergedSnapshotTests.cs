using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

public class MergedSnapshotTests
{
    [Fact]
    public void ASummaryThatDoesNotFitIsRefusedWithNothingAdded()
    {
        var merged = new MergedSnapshot(SimulatedRank.Layers, SimulatedRank.Experts);
        var good = new SimulatedRank("rank-0");
        good.Collector.Histogram(MoeMetrics.RequestDurationSeconds, "generate").Record(0.2);
        merged.Add(good.Report(TimeSpan.FromSeconds(1)));

        // A rank whose durations use another accuracy: its counter comes first in the summary, its sketch later.
        var odd = new RankCollector(new RankCollectorOptions
        {
            RankId = "rank-1", Model = "tiny-moe", Layers = SimulatedRank.Layers, Experts = SimulatedRank.Experts,
            DurationLayout = new SketchLayout(0.02, 1e-6, 3600),
        });
        odd.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none").Add(5);
        odd.RecordExpertHits(0, 0, 3);
        odd.Histogram(MoeMetrics.RequestDurationSeconds, "generate").Record(0.3);

        Assert.Throws<ArgumentException>(() => merged.Add(odd.CollectSummary()));
        Assert.Equal(0, merged.CounterTotal(MoeMetrics.RequestsTotal));
        Assert.Equal(0, merged.ExpertHits[0]);
        Assert.Equal((1L, 1L), (merged.Summaries, merged.Distribution(MoeMetrics.RequestDurationSeconds)!.Count));
    }
}
