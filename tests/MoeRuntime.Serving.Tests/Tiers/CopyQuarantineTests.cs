using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Serving.Tests.Tiers;

public sealed class CopyQuarantineTests
{
    static readonly DateTimeOffset T0 = DateTimeOffset.UnixEpoch;

    [Fact]
    public void AFailedTryRefusesCallsUntilTheBackOffWhichDoublesUpToTheLastRetry()
    {
        var quarantine = new CopyQuarantine(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        Assert.False(quarantine.Refuses(T0));

        Assert.True(quarantine.Fail(QuarantineReason.Digest, "bad bytes", T0));
        Assert.Equal(QuarantineReason.Digest, quarantine.Reason);
        Assert.Equal("bad bytes", quarantine.Message);
        Assert.True(quarantine.Refuses(T0.AddMilliseconds(999)));
        Assert.False(quarantine.Refuses(T0.AddSeconds(1)));

        var waits = new List<double>();
        DateTimeOffset now = T0.AddSeconds(1);
        for (int i = 0; i < 4; i++)
        {
            Assert.False(quarantine.Fail(QuarantineReason.Digest, "still bad", now));
            waits.Add(quarantine.RetryAfter.TotalSeconds);
            now = quarantine.RetryAt;
        }
        Assert.Equal([2.0, 4, 5, 5], waits);
    }

    [Fact]
    public void APassingTryEndsTheQuarantineOnceAndANewReasonStartsAnother()
    {
        var quarantine = new CopyQuarantine(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(5));
        Assert.False(quarantine.Pass());
        quarantine.Fail(QuarantineReason.Nan, "nan", T0);
        quarantine.Fail(QuarantineReason.Nan, "nan", T0.AddSeconds(1));
        Assert.True(quarantine.Fail(QuarantineReason.Digest, "digest", T0.AddSeconds(3)));
        Assert.Equal(TimeSpan.FromSeconds(1), quarantine.RetryAfter);

        Assert.True(quarantine.Pass());
        Assert.False(quarantine.Pass());
        Assert.Null(quarantine.Reason);
        Assert.False(quarantine.Refuses(T0));
        Assert.True(quarantine.Fail(QuarantineReason.Digest, "again", T0.AddSeconds(10)));
        Assert.Equal(TimeSpan.FromSeconds(1), quarantine.RetryAfter);
    }

    [Fact]
    public void BackOffsThatAreNotPositiveOrOutOfOrderAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CopyQuarantine(TimeSpan.Zero, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CopyQuarantine(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(1)));
    }
}
