using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

public class SlidingWindowsTests
{
    // Mid-slot, so that slot edges do not decide the outcome.
    static readonly DateTimeOffset Now = SimulatedRank.Start.AddHours(2).AddSeconds(5);

    [Fact]
    public void ValuesLandInTheWindowsTheirTimeFallsIn()
    {
        var windows = new SlidingWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        windows.Add(Requests(Now.AddSeconds(-30), 1));
        windows.Add(Requests(Now.AddMinutes(-3), 10));
        windows.Add(Requests(Now.AddMinutes(-30), 100));
        windows.Add(Requests(Now.AddMinutes(-90), 1000));

        Assert.Equal(1, Total(windows, TelemetryWindow.OneMinute, Now));
        Assert.Equal(11, Total(windows, TelemetryWindow.FiveMinutes, Now));
        Assert.Equal(111, Total(windows, TelemetryWindow.OneHour, Now));
    }

    [Fact]
    public void DataAgesOutOfEachWindowAsTimePasses()
    {
        var windows = new SlidingWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        windows.Add(Requests(Now, 5));

        Assert.Equal((5, 5, 5), Totals(windows, Now));
        Assert.Equal((0, 5, 5), Totals(windows, Now.AddMinutes(2)));
        Assert.Equal((0, 0, 5), Totals(windows, Now.AddMinutes(10)));
        Assert.Equal((0, 0, 0), Totals(windows, Now.AddMinutes(61)));

        // The slots are reused: new data an hour and more later does not bring the old back.
        DateTimeOffset later = Now.AddHours(1).AddMinutes(1);
        windows.Add(Requests(later, 7));
        Assert.Equal((7, 7, 7), Totals(windows, later));
    }

    [Fact]
    public void ALateSummaryDoesNotWipeNewerData()
    {
        var windows = new SlidingWindows(SimulatedRank.Layers, SimulatedRank.Experts);
        windows.Add(Requests(Now, 5));
        // Five minutes late: the same ten-second slot index as now, in a ring of thirty.
        windows.Add(Requests(Now.AddMinutes(-5), 3));

        Assert.Equal((5, 5, 8), Totals(windows, Now));
    }

    [Fact]
    public void TheCoveredSpanIsTheOlderSlotsAndTheNewestUpToNow()
    {
        Assert.Equal(TimeSpan.FromSeconds(55), SlidingWindows.Covered(TelemetryWindow.OneMinute, Now));
        Assert.Equal(TimeSpan.FromSeconds(295), SlidingWindows.Covered(TelemetryWindow.FiveMinutes, Now));
        Assert.Equal(TimeSpan.FromSeconds(59 * 60 + 5), SlidingWindows.Covered(TelemetryWindow.OneHour, Now));
    }

    static (double, double, double) Totals(SlidingWindows windows, DateTimeOffset at) =>
        (Total(windows, TelemetryWindow.OneMinute, at), Total(windows, TelemetryWindow.FiveMinutes, at), Total(windows, TelemetryWindow.OneHour, at));

    static double Total(SlidingWindows windows, TelemetryWindow window, DateTimeOffset at) =>
        windows.Query(window, at).CounterTotal(MoeMetrics.RequestsTotal);

    /// <summary>A one-second summary ending at <paramref name="end"/> with <paramref name="requests"/> requests.</summary>
    static RankSummary Requests(DateTimeOffset end, long requests)
    {
        var rank = new SimulatedRank("rank-0", end.AddSeconds(-1));
        rank.Collector.Counter(MoeMetrics.RequestsTotal, "generate", "success", "none").Add(requests);
        return rank.Report(TimeSpan.FromSeconds(1));
    }
}
