using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// A rank whose summaries stop arriving is named in the controllers' status: they decide without its latency and tokens.
/// The silent rank here is one summary reported by hand for a rank id no silo has, which then never reports again.
/// </summary>
public sealed class ControlStaleTelemetryTests(ControlFixture fixture) : IClassFixture<ControlFixture>
{
    [Fact]
    public async Task ARankThatStopsReportingIsNamedInTheControllerStatus()
    {
        const string silent = "9";
        var collector = new RankCollector(new RankCollectorOptions { RankId = silent, Model = ClusterFixture.ModelName, Layers = 4, Experts = 8 });
        collector.Counter(MoeMetrics.TokensTotal, "prompt").Add(1);
        await fixture.Client.GetGrain<IShardAggregatorGrain>(0).ReportAsync(SummaryCodec.Encode(collector.CollectSummary()));

        // Ranks are stale after five one-second intervals of silence.
        ControllerStatus status = await Eventually.PollAsync(() => fixture.Controller.TickAsync(),
            s => s.StaleTelemetryRanks.Contains(silent), 150, TimeSpan.FromMilliseconds(100));
        Assert.Equal([silent], status.StaleTelemetryRanks);
    }
}
