using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

public class RankTrackerTests
{
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    [Fact]
    public void ASummaryDeliveredTwiceIsMergedOnce()
    {
        var rank = new SimulatedRank("rank-0");
        var requests = rank.Collector.Counter(MoeMetrics.RequestsTotal, "stream", "success", "none");
        var tracker = new RankTracker(Interval, 3);
        var merged = new MergedSnapshot(SimulatedRank.Layers, SimulatedRank.Experts);

        requests.Add(3);
        RankSummary first = rank.Report(Interval);
        requests.Add(4);
        RankSummary second = rank.Report(Interval);
        foreach (RankSummary delivery in new[] { first, SimulatedRank.Ship(first), second, SimulatedRank.Ship(first), SimulatedRank.Ship(second) })
            if (tracker.Accept(delivery, rank.Clock.Now)) merged.Add(delivery);

        Assert.Equal(7, merged.CounterTotal(MoeMetrics.RequestsTotal));
        Assert.Equal(2, merged.Summaries);
    }

    [Fact]
    public void ARestartedRankIsAcceptedFromSequenceOneAgain()
    {
        var tracker = new RankTracker(Interval, 3);
        var before = new SimulatedRank("rank-0");
        before.Report(Interval);
        RankSummary last = before.Report(Interval);
        Assert.True(tracker.Accept(last, before.Clock.Now));

        var restarted = new SimulatedRank("rank-0", before.Clock.Now.AddSeconds(5));
        RankSummary fresh = restarted.Report(Interval);

        Assert.Equal(1, fresh.Sequence);
        Assert.True(tracker.Accept(fresh, restarted.Clock.Now));
        Assert.False(tracker.Accept(fresh, restarted.Clock.Now));
    }

    [Fact]
    public void ASilentRankTurnsStaleAndItsGaugesStopCounting()
    {
        var tracker = new RankTracker(Interval, staleAfterIntervals: 3);
        var a = new SimulatedRank("rank-a");
        var b = new SimulatedRank("rank-b");
        a.Collector.Gauge(MoeMetrics.TierMemoryBytes, "hot").Set(100);
        b.Collector.Gauge(MoeMetrics.TierMemoryBytes, "hot").Set(200);
        DateTimeOffset t0 = SimulatedRank.Start.AddSeconds(1);
        tracker.Accept(a.Report(Interval), t0);
        tracker.Accept(b.Report(Interval), t0);
        Assert.Equal(300, HotMemory(tracker, t0));

        // b keeps reporting; a falls silent.
        for (int s = 1; s <= 5; s++) tracker.Accept(b.Report(Interval), t0.AddSeconds(s));

        RankCounts onTheEdge = tracker.Counts(t0.AddSeconds(3));
        Assert.Equal((2, 0), (onTheEdge.Live, onTheEdge.Stale));
        Assert.Equal(300, HotMemory(tracker, t0.AddSeconds(3)));
        RankCounts later = tracker.Counts(t0.AddSeconds(3.5));
        Assert.Equal((1, 1), (later.Live, later.Stale));
        Assert.Equal(["rank-a"], later.StaleRanks);
        Assert.Equal(200, HotMemory(tracker, t0.AddSeconds(3.5)));

        // a was last seen 25 s before, b 20 s before.
        tracker.Expire(t0.AddSeconds(25), retention: TimeSpan.FromSeconds(22));
        Assert.Equal(["rank-b"], tracker.Ranks.Select(r => r.RankId));
    }

    static double HotMemory(RankTracker tracker, DateTimeOffset now) =>
        tracker.Gauges(now)(MoeMetrics.TierMemoryBytes, labels => labels[0] == "hot");
}
