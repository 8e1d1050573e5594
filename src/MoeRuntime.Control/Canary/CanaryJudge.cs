namespace MoeRuntime.Control.Canary;

/// <summary>What a trial does next.</summary>
public enum CanaryVerdict
{
    /// <summary>Keep the change on the canary ranks and measure another interval.</summary>
    Continue,

    /// <summary>The change held for the trial's intervals: write it on every rank.</summary>
    Promote,

    /// <summary>The change hurt (or could not be judged): restore the canary ranks' previous version.</summary>
    RollBack,
}

/// <summary>One rank's figures for one interval; a metric the rank did not measure that interval is absent.</summary>
public sealed record RankSample(int Rank, IReadOnlyDictionary<CanaryMetric, double> Values);

/// <summary>
/// One metric judged over the intervals so far.
/// </summary>
/// <param name="CanaryIntervals">Intervals in which the canary ranks measured the metric.</param>
/// <param name="ControlSamples">Control rank-intervals that measured it.</param>
/// <param name="CanaryMedian">Median over intervals of the canary ranks' mean.</param>
/// <param name="ControlMedian">Median of every control rank-interval.</param>
/// <param name="ControlMad">Median absolute deviation of the control rank-intervals from their median.</param>
/// <param name="Threshold">How much worse the canary may be: <c>k × 1.4826 × MAD + minimum effect</c> (the larger of the metric's absolute minimum and, but for the hit ratio, a share of the control's median).</param>
/// <param name="Harm">How much worse the canary's median is, in the metric's units (negative: it is better).</param>
public sealed record MetricJudgement(
    CanaryMetric Metric, int CanaryIntervals, int ControlSamples, double CanaryMedian, double ControlMedian, double ControlMad, double Threshold, double Harm)
{
    /// <summary>Worse than the control by more than the threshold.</summary>
    public bool Harmful => Harm > Threshold;

    /// <summary>Better than the control by more than the threshold (reported, not required for promotion).</summary>
    public bool Helpful => -Harm > Threshold;
}

/// <summary>A trial's verdict after an interval, with the numbers behind it.</summary>
/// <param name="Interval">How many intervals have been measured (1 after the first).</param>
public sealed record CanaryJudgement(int Interval, CanaryVerdict Verdict, IReadOnlyList<MetricJudgement> Metrics, string Reason);

/// <summary>
/// The canary's noise rule. For each targeted metric, over the intervals measured so far: the canary's value per
/// interval (the mean of its ranks) and every control rank's value per interval. The canary is harmful on the metric
/// when its median is worse than the control's median by more than <c>k</c> robust standard deviations of the control
/// (<c>1.4826 × MAD</c>, the normal-consistent scale of the median absolute deviation) plus a minimum absolute effect.
/// Medians and the MAD ignore a stray interval (a GC pause, a burst), the control's own spread sets how large a
/// difference is noise, and the minimum effect keeps a perfectly quiet control from turning a trifle into a roll-back.
/// A metric is judged only once both sides have <see cref="CanaryOptions.MinIntervals"/> values. The trial rolls back as
/// soon as any judged metric is harmful; it is promoted after <see cref="CanaryOptions.Intervals"/> intervals when none
/// was, and rolled back then if no metric could be judged at all (no evidence is not evidence of no harm).
/// </summary>
public static class CanaryJudge
{
    /// <summary>The MAD of a normal sample times this is its standard deviation.</summary>
    public const double MadToSigma = 1.4826;

    /// <summary>
    /// Judges the trial after the intervals in <paramref name="intervals"/> (oldest first, each the samples of every rank
    /// that reported that interval).
    /// </summary>
    /// <exception cref="ArgumentException">A rank is both canary and control, or a side is empty.</exception>
    public static CanaryJudgement Judge(
        IReadOnlyList<IReadOnlyList<RankSample>> intervals, CanaryRanks ranks, IReadOnlyList<CanaryMetric> metrics, CanaryOptions options)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        ArgumentNullException.ThrowIfNull(ranks);
        ArgumentNullException.ThrowIfNull(metrics);
        ArgumentNullException.ThrowIfNull(options);
        if (ranks.Canary.Count == 0 || ranks.Control.Count == 0)
            throw new ArgumentException("a trial needs at least one canary and one control rank", nameof(ranks));
        int[] both = [.. ranks.Canary.Intersect(ranks.Control)];
        if (both.Length > 0) throw new ArgumentException($"rank(s) {string.Join(", ", both)} both canary and control", nameof(ranks));
        if (metrics.Count == 0) throw new ArgumentException("a trial needs at least one metric to judge on", nameof(metrics));

        var judged = new List<MetricJudgement>();
        foreach (CanaryMetric metric in metrics.Distinct())
            if (Metric(intervals, ranks, metric, options) is { } j) judged.Add(j);

        int n = intervals.Count;
        MetricJudgement[] harmful = [.. judged.Where(j => j.Harmful)];
        if (harmful.Length > 0)
            return new(n, CanaryVerdict.RollBack, judged,
                "worse than the control ranks beyond their noise on " + string.Join(", ", harmful.Select(Describe)));
        if (n < options.Intervals)
            return new(n, CanaryVerdict.Continue, judged, judged.Count == 0
                ? $"interval {n} of {options.Intervals}: not enough measured yet (a metric is judged from {options.MinIntervals} intervals)"
                : $"interval {n} of {options.Intervals}: within the control ranks' noise on " + string.Join(", ", judged.Select(Describe)));
        return judged.Count == 0
            ? new(n, CanaryVerdict.RollBack, judged, $"after {n} intervals no targeted metric was measured on both sides: the change could not be judged")
            : new(n, CanaryVerdict.Promote, judged, $"held for {n} intervals: " + string.Join(", ", judged.Select(Describe)));
    }

    /// <summary>One metric over the intervals so far; null until both sides have <see cref="CanaryOptions.MinIntervals"/> values.</summary>
    public static MetricJudgement? Metric(IReadOnlyList<IReadOnlyList<RankSample>> intervals, CanaryRanks ranks, CanaryMetric metric, CanaryOptions options)
    {
        ArgumentNullException.ThrowIfNull(intervals);
        ArgumentNullException.ThrowIfNull(ranks);
        ArgumentNullException.ThrowIfNull(options);
        var canary = new List<double>(intervals.Count);
        var control = new List<double>(intervals.Count * ranks.Control.Count);
        foreach (IReadOnlyList<RankSample> interval in intervals)
        {
            double sum = 0;
            int count = 0;
            foreach (RankSample sample in interval)
            {
                if (!sample.Values.TryGetValue(metric, out double value) || !double.IsFinite(value)) continue;
                if (ranks.Canary.Contains(sample.Rank))
                {
                    sum += value;
                    count++;
                }
                else if (ranks.Control.Contains(sample.Rank)) control.Add(value);
            }
            if (count > 0) canary.Add(sum / count);
        }
        if (canary.Count < options.MinIntervals || control.Count < options.MinIntervals) return null;
        double canaryMedian = Median(canary), controlMedian = Median(control);
        double mad = Median(control.Select(v => Math.Abs(v - controlMedian)).ToList());
        double threshold = options.MadMultiplier * MadToSigma * mad + options.MinEffect(metric, controlMedian);
        double harm = CanaryMetrics.HigherIsBetter(metric) ? controlMedian - canaryMedian : canaryMedian - controlMedian;
        return new MetricJudgement(metric, canary.Count, control.Count, canaryMedian, controlMedian, mad, threshold, harm);
    }

    /// <summary>The numbers of a judgement in one phrase, for records and log lines.</summary>
    public static string Describe(MetricJudgement j)
    {
        ArgumentNullException.ThrowIfNull(j);
        return $"{CanaryMetrics.Name(j.Metric)} canary {j.CanaryMedian:G4} vs control {j.ControlMedian:G4} " +
            $"(worse by {j.Harm:G3}, threshold {j.Threshold:G3}, MAD {j.ControlMad:G3}, n {j.CanaryIntervals}/{j.ControlSamples})";
    }

    /// <summary>The median; sorts <paramref name="values"/> in place.</summary>
    static double Median(List<double> values)
    {
        values.Sort();
        int mid = values.Count / 2;
        return values.Count % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }
}
