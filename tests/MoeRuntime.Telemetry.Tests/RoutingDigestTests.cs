using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Tests;

public class RoutingDigestTests
{
    [Fact]
    public void TheOrderOfTheTopKDoesNotMatter() =>
        Assert.Equal(
            RoutingDigest.Compute([3, 7], [0.6f, 0.4f]),
            RoutingDigest.Compute([7, 3], [0.4f, 0.6f]));

    [Fact]
    public void WeightsThatRoundToTheSameStepAgree() =>
        Assert.Equal(
            RoutingDigest.Compute([3, 7], [0.6f, 0.4f]),
            RoutingDigest.Compute([3, 7], [0.6f + 1e-4f, 0.4f - 1e-4f]));

    [Fact]
    public void DifferentExpertsOrWeightsDisagree()
    {
        var reference = RoutingDigest.Compute([3, 7], [0.6f, 0.4f]);
        Assert.NotEqual(reference, RoutingDigest.Compute([3, 6], [0.6f, 0.4f]));
        Assert.NotEqual(reference, RoutingDigest.Compute([3, 7], [0.7f, 0.3f]));
        Assert.NotEqual(reference, RoutingDigest.Compute([3], [0.6f]));
    }

    [Fact]
    public void RequestIdHashesAreFixedNumbers()
    {
        // string.GetHashCode differs per process; ranks in different processes must agree.
        Assert.Equal(RoutingDigest.HashRequestId("req-42"), RoutingDigest.HashRequestId("req-42"));
        Assert.NotEqual(RoutingDigest.HashRequestId("req-42"), RoutingDigest.HashRequestId("req-43"));
        Assert.Equal(0x303422012213DEDFUL, RoutingDigest.HashRequestId("req-42"));
    }

    [Fact]
    public void TheRingDrainsInOrderAndCountsWhatItOverwrote()
    {
        var ring = new RoutingDigestRing(8);
        for (var i = 0; i < 5; i++) ring.Add((ulong)i, layer: 1, tokenPosition: i, digest: 100 + (ulong)i);
        var drained = new List<RoutingDigestRecord>();
        ring.Drain(drained, maxRecords: 100);
        Assert.Equal([0, 1, 2, 3, 4], drained.Select(d => d.TokenPosition));
        Assert.Equal(0, ring.Overwritten);

        for (var i = 0; i < 20; i++) ring.Add((ulong)i, 2, i, (ulong)i);
        drained.Clear();
        ring.Drain(drained, maxRecords: 100);
        Assert.Equal(Enumerable.Range(12, 8), drained.Select(d => d.TokenPosition));
        Assert.Equal(12, ring.Overwritten);
    }

    [Fact]
    public void ADrainTakesAtMostItsShareAndLeavesTheRest()
    {
        var ring = new RoutingDigestRing(16);
        for (var i = 0; i < 10; i++) ring.Add(1, 0, i, 1);
        var drained = new List<RoutingDigestRecord>();
        ring.Drain(drained, maxRecords: 4);
        ring.Drain(drained, maxRecords: 100);
        Assert.Equal(Enumerable.Range(0, 10), drained.Select(d => d.TokenPosition));
    }

    [Fact]
    public void ConcurrentWritersLoseNothingTheRingCanHold()
    {
        const int writers = 4, perWriter = 10_000;
        var ring = new RoutingDigestRing(1 << 16);
        Parallel.For(0, writers, w =>
        {
            for (var i = 0; i < perWriter; i++) ring.Add((ulong)w, w, i, (ulong)(w * perWriter + i));
        });
        var drained = new List<RoutingDigestRecord>();
        ring.Drain(drained, int.MaxValue);
        Assert.Equal(writers * perWriter, drained.Count);
        Assert.Equal(writers * perWriter, drained.Select(d => d.Digest).Distinct().Count());
        Assert.All(drained, d => Assert.Equal((ulong)(d.Layer * perWriter + d.TokenPosition), d.Digest));
    }
}
