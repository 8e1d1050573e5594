using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

/// <summary>A summary cannot silence its rank with a huge sequence number (issue 15).</summary>
public class RankTrackerSecurityTests
{
    static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>A copy of <paramref name="s"/> claiming another sequence number and interval end.</summary>
    static RankSummary Claiming(RankSummary s, long sequence, DateTimeOffset? end = null) => new()
    {
        RankId = s.RankId, Model = s.Model, Sequence = sequence, IntervalStart = s.IntervalStart, IntervalEnd = end ?? s.IntervalEnd,
        SampleEveryNTokens = s.SampleEveryNTokens, Counters = s.Counters, Gauges = s.Gauges, Sketches = s.Sketches,
        ExpertHits = s.ExpertHits, ExpertComputeNanoseconds = s.ExpertComputeNanoseconds, LayerComputeNanoseconds = s.LayerComputeNanoseconds,
        TierHits = s.TierHits, TierMisses = s.TierMisses, TierFetchNanoseconds = s.TierFetchNanoseconds, RoutingDigests = s.RoutingDigests,
    };

    [Fact]
    public void ASequenceOfLongMaxValueIsRefusedAndTheRealRankKeepsReporting()
    {
        var tracker = new RankTracker(Interval, 3);
        var rank = new SimulatedRank("0");
        RankSummary first = rank.Report(Interval);
        Assert.Equal(RankSummaryVerdict.Accepted, tracker.Check(first, rank.Clock.Now));

        RankSummary forged = Claiming(first, long.MaxValue, first.IntervalEnd.AddSeconds(1));
        Assert.Equal(RankSummaryVerdict.SequenceJump, tracker.Check(forged, rank.Clock.Now));

        RankSummary second = rank.Report(Interval);
        Assert.Equal(RankSummaryVerdict.Accepted, tracker.Check(second, rank.Clock.Now));
    }

    [Fact]
    public void AJumpBeyondWhatTheElapsedIntervalsExplainIsRefusedWhileARankThatWasAwayCatchesUp()
    {
        var tracker = new RankTracker(Interval, 3);
        var rank = new SimulatedRank("0");
        RankSummary first = rank.Report(Interval);
        DateTimeOffset seen = rank.Clock.Now;
        Assert.True(tracker.Accept(first, seen));

        // One interval later, 1,000 intervals' worth of sequence numbers: refused.
        RankSummary jump = Claiming(first, first.Sequence + 1000, first.IntervalEnd.AddSeconds(1));
        Assert.Equal(RankSummaryVerdict.SequenceJump, tracker.Check(jump, seen + Interval));
        // 600 intervals after it was last seen (shipping failed for ten minutes), the same jump is plausible.
        Assert.Equal(RankSummaryVerdict.Accepted, tracker.Check(Claiming(first, first.Sequence + 1000, first.IntervalEnd.AddMinutes(10)), seen + TimeSpan.FromMinutes(10)));
    }

    [Fact]
    public void AFirstSummaryPastTheCeilingIsRefused()
    {
        var tracker = new RankTracker(Interval, 3);
        var rank = new SimulatedRank("0");
        RankSummary summary = Claiming(rank.Report(Interval), RankTracker.MaxSequence + 1);
        Assert.Equal(RankSummaryVerdict.SequenceJump, tracker.Check(summary, rank.Clock.Now));
        Assert.Empty(tracker.Ranks);
    }
}
