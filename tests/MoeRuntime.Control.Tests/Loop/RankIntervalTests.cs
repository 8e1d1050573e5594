using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Loop;

public sealed class RankIntervalTests
{
    static RankCounters Counters(long hits, long warm, long cold, double warmSeconds, double coldSeconds, params (int Expert, long Uses)[] uses) =>
        new(hits, warm, cold, warmSeconds, coldSeconds, warm * 100, cold * 1000, uses.ToDictionary(u => Ranks.Key(u.Expert), u => u.Uses));

    [Fact]
    public void AnIntervalIsTheDifferenceOfTwoReads()
    {
        var first = Counters(10, 2, 1, 0.004, 0.02, (0, 5), (1, 8));
        var second = Counters(25, 6, 3, 0.012, 0.08, (0, 9), (1, 8), (2, 4));
        RankInterval interval = RankInterval.Between(first, second);
        Assert.False(interval.Fresh);
        Assert.Equal(15, interval.Hits);
        Assert.Equal(4, interval.WarmFetch.Fetches);
        Assert.Equal(0.002, interval.WarmFetch.P50Seconds, 12);
        Assert.Equal(400, interval.WarmFetch.FetchedBytes);
        Assert.Equal(2, interval.ColdFetch.Fetches);
        Assert.Equal(0.03, interval.ColdFetch.P95Seconds, 12);
        Assert.Equal(4, interval.Uses[Ranks.Key(0)]);
        Assert.Equal(0, interval.Uses[Ranks.Key(1)]);
        Assert.Equal(4, interval.Uses[Ranks.Key(2)]);
        Assert.Equal(15 / 21.0, interval.HitRatio!.Value, 12);
    }

    [Fact]
    public void TheFirstReadCountsEverythingSinceTheRankStarted()
    {
        RankInterval interval = RankInterval.Between(null, Counters(3, 1, 0, 0.002, 0, (0, 4)));
        Assert.True(interval.Fresh);
        Assert.Equal(3, interval.Hits);
        Assert.Equal(4, interval.Uses[Ranks.Key(0)]);
        Assert.Equal(0, interval.ColdFetch.Fetches);
    }

    [Fact]
    public void CountersGoingBackwardsMeanARestartAndAFreshStart()
    {
        var before = Counters(1000, 50, 20, 1, 2, (0, 900));
        RankInterval interval = RankInterval.Between(before, Counters(7, 1, 2, 0.001, 0.05, (0, 9)));
        Assert.True(interval.Fresh);
        Assert.Equal(7, interval.Hits);
        Assert.Equal(9, interval.Uses[Ranks.Key(0)]);
        Assert.True(interval.WarmFetch.Fetches >= 0 && interval.ColdFetch.Fetches >= 0);
    }

    [Fact]
    public void AnIdleIntervalHasNoHitRatioAndNoFetches()
    {
        var read = Counters(5, 1, 1, 0.1, 0.1, (0, 7));
        RankInterval interval = RankInterval.Between(read, read);
        Assert.Null(interval.HitRatio);
        Assert.Equal(0, interval.WarmFetch.Fetches);
        Assert.Equal(0, interval.Uses[Ranks.Key(0)]);
    }
}
