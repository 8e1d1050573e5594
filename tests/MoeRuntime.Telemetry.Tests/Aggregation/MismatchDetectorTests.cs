using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

public class MismatchDetectorTests
{
    static readonly DateTimeOffset At = SimulatedRank.Start;

    [Fact]
    public void IdenticalDigestsAreComparedAndAgree()
    {
        var detector = new MismatchDetector();
        RoutingDigestRecord[] tokens = Tokens(layers: 4, positions: 10, digest: (_, _) => 7);

        detector.Observe("router", tokens, At);
        detector.Observe("expert-rank", tokens, At);

        Assert.Equal(40, detector.Compared);
        Assert.Equal(0, detector.Mismatches);
        Assert.Empty(detector.Counts);
        Assert.Empty(detector.Recent);
    }

    [Fact]
    public void EveryCountedKeyHasItsNewestMismatchBeyondTheRecentList()
    {
        // One router and 40 ranks that each route every token of 4 layers differently: 160 keys, more than the 100
        // mismatches the recent list keeps.
        var detector = new MismatchDetector();
        detector.Observe("router", Tokens(4, 3, (_, _) => 7), At);
        for (int rank = 0; rank < 40; rank++)
            detector.Observe($"rank-{rank:D2}", Tokens(4, 3, (_, position) => 100UL + (ulong)position), At.AddSeconds(rank));

        Assert.Equal(160, detector.Counts.Count);
        Assert.Equal(100, detector.Recent.Count());
        Assert.Equal(detector.Counts.Keys.Order(), detector.Latest.Keys.Order());
        foreach (var ((layer, a, b), latest) in detector.Latest)
        {
            Assert.Equal(layer, latest.Layer);
            Assert.Equal((a, b), string.CompareOrdinal(latest.RankA, latest.RankB) < 0 ? (latest.RankA, latest.RankB) : (latest.RankB, latest.RankA));
            Assert.Equal(2, latest.TokenPosition);
        }
    }

    [Fact]
    public void ADifferingDigestIsCountedUnderItsLayerAndOrderedRankPair()
    {
        var detector = new MismatchDetector();
        detector.Observe("rank-b", Tokens(4, 10, (_, _) => 7), At);
        // rank-a's gate was perturbed at layer 2 for positions 3 and 4.
        detector.Observe("rank-a", Tokens(4, 10, (layer, position) => layer == 2 && position is 3 or 4 ? 9UL : 7UL), At.AddSeconds(1));

        Assert.Equal(40, detector.Compared);
        Assert.Equal(2, detector.Mismatches);
        var count = Assert.Single(detector.Counts);
        Assert.Equal(((2, "rank-a", "rank-b"), 2L), (count.Key, count.Value));
        Assert.Equal([4, 3], detector.Recent.Select(m => m.TokenPosition));
        RoutingMismatch newest = detector.Recent.First();
        Assert.Equal((2, "rank-b", 7UL, "rank-a", 9UL), (newest.Layer, newest.RankA, newest.DigestA, newest.RankB, newest.DigestB));
    }

    [Fact]
    public void RecentMismatchesAreBoundedNewestFirst()
    {
        var detector = new MismatchDetector(recentCapacity: 5);
        detector.Observe("rank-a", Tokens(1, 20, (_, _) => 1), At);
        detector.Observe("rank-b", Tokens(1, 20, (_, _) => 2), At);

        Assert.Equal(20, detector.Mismatches);
        Assert.Equal([19, 18, 17, 16, 15], detector.Recent.Select(m => m.TokenPosition));
    }

    [Fact]
    public void ARanksRepeatedReportIsNotComparedAgain()
    {
        var detector = new MismatchDetector();
        RoutingDigestRecord[] a = Tokens(2, 5, (_, _) => 1), b = Tokens(2, 5, (_, _) => 2);

        detector.Observe("rank-a", a, At);
        detector.Observe("rank-a", a, At);
        Assert.Equal(0, detector.Compared);

        detector.Observe("rank-b", b, At);
        detector.Observe("rank-b", b, At); // a retried delivery
        detector.Observe("rank-a", a, At);

        Assert.Equal((10, 10), (detector.Compared, detector.Mismatches));
        Assert.Equal(5, detector.Counts[(1, "rank-a", "rank-b")]);
    }

    [Fact]
    public void UnmatchedReportsBeyondCapacityAreForgottenOldestFirst()
    {
        var detector = new MismatchDetector(capacity: 4);
        RoutingDigestRecord[] first = Tokens(1, 6, (_, _) => 1);
        detector.Observe("rank-a", first, At);

        // Positions 0 and 1 were evicted: rank-b's reports of them (sent last) wait as new tokens, uncompared.
        detector.Observe("rank-b", Tokens(1, 6, (_, _) => 2).Reverse(), At);

        Assert.Equal(4, detector.Compared);
        Assert.Equal([2, 3, 4, 5], detector.Recent.Select(m => m.TokenPosition));
    }

    static RoutingDigestRecord[] Tokens(int layers, int positions, Func<int, int, ulong> digest) =>
        Enumerable.Range(0, layers).SelectMany(layer => Enumerable.Range(0, positions)
            .Select(position => new RoutingDigestRecord(0xABCD, layer, position, digest(layer, position)))).ToArray();
}
