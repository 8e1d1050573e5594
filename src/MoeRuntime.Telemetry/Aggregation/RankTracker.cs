using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// What an aggregator knows of each rank that reports to it: the last summary it merged (so a summary
/// sent twice is counted once), when the rank last reported (so a silent rank is marked stale), and
/// its latest gauge values (memory, queue depth...), which add up across ranks.
/// </summary>
public sealed class RankTracker(TimeSpan interval, int staleAfterIntervals)
{
    readonly Dictionary<string, TrackedRank> _ranks = new(StringComparer.Ordinal);

    /// <summary>
    /// The highest sequence number accepted at all: one summary a second for 35,000 years. <c>long.MaxValue</c> would
    /// otherwise make every later summary of the real rank look like a duplicate.
    /// </summary>
    public const long MaxSequence = 1L << 40;

    /// <summary>False for a summary already merged (same or older sequence) or refused (<see cref="Check"/>): drop it.</summary>
    public bool Accept(RankSummary summary, DateTimeOffset now) => Check(summary, now) == RankSummaryVerdict.Accepted;

    /// <summary>
    /// Merges a summary's bookkeeping, or says why not: a duplicate (same or older sequence), or a sequence number that
    /// jumps further than the intervals since the rank's last summary explain (more than 16 + 4 per elapsed interval),
    /// or past <see cref="MaxSequence"/>.
    /// </summary>
    public RankSummaryVerdict Check(RankSummary summary, DateTimeOffset now)
    {
        if (summary.Sequence > MaxSequence) return RankSummaryVerdict.SequenceJump;
        if (!_ranks.TryGetValue(summary.RankId, out TrackedRank? state))
            _ranks[summary.RankId] = state = new TrackedRank(summary.RankId);
        else if (summary.Sequence <= state.LastSequence && summary.IntervalEnd <= state.LastIntervalEnd)
            return RankSummaryVerdict.Duplicate; // a restarted rank counts from 1 again, but its intervals end later
        else if (summary.Sequence > state.LastSequence && summary.Sequence - state.LastSequence > AllowedStep(now - state.LastSeen))
            return RankSummaryVerdict.SequenceJump;
        state.LastSequence = summary.Sequence;
        state.LastIntervalEnd = summary.IntervalEnd;
        state.LastSeen = now;
        state.Gauges = summary.Gauges;
        return RankSummaryVerdict.Accepted;
    }

    long AllowedStep(TimeSpan elapsed) =>
        16 + 4 * (long)Math.Ceiling(Math.Max(0, elapsed.Ticks) / (double)Math.Max(1, interval.Ticks));

    public bool IsStale(TrackedRank rank, DateTimeOffset now) => now - rank.LastSeen > interval * staleAfterIntervals;

    public IEnumerable<TrackedRank> Ranks => _ranks.Values;

    /// <summary>Live and stale ranks as views report them.</summary>
    public RankCounts Counts(DateTimeOffset now)
    {
        var stale = _ranks.Values.Where(r => IsStale(r, now)).Select(r => r.RankId).Order().ToList();
        return new RankCounts(_ranks.Count - stale.Count, stale.Count, stale);
    }

    /// <summary>Gauges of the live ranks whose id <paramref name="include"/> accepts.</summary>
    public GaugeSource Gauges(DateTimeOffset now, Func<string, bool>? include = null) =>
        (metric, filter) => _ranks.Values.Where(r => !IsStale(r, now) && (include?.Invoke(r.RankId) ?? true))
            .SelectMany(r => r.Gauges).Where(g => g.Metric == metric && filter(g.Labels)).Sum(g => g.Value);

    /// <summary>Forgets ranks silent for longer than <paramref name="retention"/>, so their gauges stop counting.</summary>
    public void Expire(DateTimeOffset now, TimeSpan retention)
    {
        foreach (TrackedRank gone in _ranks.Values.Where(r => now - r.LastSeen > retention).ToList()) _ranks.Remove(gone.RankId);
    }
}

/// <summary>One rank as an aggregator sees it.</summary>
public sealed class TrackedRank(string rankId)
{
    public string RankId { get; } = rankId;
    public long LastSequence { get; set; }
    public DateTimeOffset LastIntervalEnd { get; set; }
    public DateTimeOffset LastSeen { get; set; }
    public IReadOnlyList<GaugeValue> Gauges { get; set; } = [];
}

/// <summary>What <see cref="RankTracker.Check"/> made of a summary.</summary>
public enum RankSummaryVerdict
{
    Accepted,
    Duplicate,
    SequenceJump,
}
