using System.Diagnostics;
using MoeRuntime.Serving.Dispatch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class HedgeDelayTests
{
    static readonly long Second = Stopwatch.Frequency;

    [Fact]
    public void TheDelayIsFourTimesTheSlowestRecentCallWithinItsBounds()
    {
        var hedge = new HedgeDelay(TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));
        Assert.Equal(TimeSpan.FromMilliseconds(250), hedge.DelayAt(1));

        hedge.Record(TimeSpan.FromMilliseconds(10), 1);
        Assert.Equal(TimeSpan.FromMilliseconds(250), hedge.DelayAt(1));
        hedge.Record(TimeSpan.FromMilliseconds(200), 2);
        hedge.Record(TimeSpan.FromMilliseconds(20), 3);
        Assert.Equal(800, hedge.DelayAt(3).TotalMilliseconds, 1);
        hedge.Record(TimeSpan.FromSeconds(3), 4);
        Assert.Equal(TimeSpan.FromSeconds(5), hedge.DelayAt(4));
    }

    [Fact]
    public void ASlowCallIsForgottenWithTheHalfLife()
    {
        var hedge = new HedgeDelay(TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(5), multiplier: 4, halfLife: TimeSpan.FromSeconds(10));
        long start = 1000 * Second;
        hedge.Record(TimeSpan.FromMilliseconds(400), start);
        Assert.Equal(1600, hedge.DelayAt(start).TotalMilliseconds, 1);
        Assert.Equal(800, hedge.DelayAt(start + 10 * Second).TotalMilliseconds, 1);
        Assert.Equal(400, hedge.DelayAt(start + 20 * Second).TotalMilliseconds, 1);
        Assert.Equal(100, hedge.DelayAt(start + 600 * Second).TotalMilliseconds, 1);
        // A new, faster call does not hide a recent slow one.
        hedge.Record(TimeSpan.FromMilliseconds(1), start + 10 * Second);
        Assert.Equal(800, hedge.DelayAt(start + 10 * Second).TotalMilliseconds, 1);
    }

    [Fact]
    public void BadBoundsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new HedgeDelay(TimeSpan.Zero, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HedgeDelay(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HedgeDelay(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), multiplier: 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HedgeDelay(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2), multiplier: double.NaN));
    }
}

public class ExpertDetoursTests
{
    static readonly long Second = Stopwatch.Frequency;

    [Fact]
    public void AFailedDefaultGrainIsAvoidedForThePeriodOnly()
    {
        var detours = new ExpertDetours(TimeSpan.FromSeconds(15));
        long now = 100 * Second;
        Assert.False(detours.Avoid("m/0/1", now));
        detours.Failed("m/0/1", now);
        Assert.True(detours.Avoid("m/0/1", now + 14 * Second));
        Assert.False(detours.Avoid("m/0/2", now + 14 * Second));
        Assert.False(detours.Avoid("m/0/1", now + 15 * Second));

        detours.Failed("m/0/2", now + 10 * Second);
        Assert.Equal(2, detours.Count(now + 11 * Second));
        // A later failure drops what has expired.
        detours.Failed("m/0/3", now + 20 * Second);
        Assert.Equal(2, detours.Count(now + 20 * Second));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ExpertDetours(TimeSpan.Zero));
    }
}
