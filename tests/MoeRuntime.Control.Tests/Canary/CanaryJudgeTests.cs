using MoeRuntime.Control.Canary;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Canary;

public sealed class CanaryJudgeTests
{
    static readonly CanaryRanks OneOfFour = new([3], [0, 1, 2]);
    static readonly CanaryMetric[] HitRatio = [CanaryMetric.HotHitRatio];

    /// <summary>An interval in which the canary's hit ratio is <paramref name="canary"/> and the control ranks' <paramref name="control"/>.</summary>
    static IReadOnlyList<RankSample> Interval(double canary, params double[] control) =>
        [.. control.Select((v, i) => Sample(i, CanaryMetric.HotHitRatio, v)), Sample(3, CanaryMetric.HotHitRatio, canary)];

    static RankSample Sample(int rank, CanaryMetric metric, double value) => new(rank, new Dictionary<CanaryMetric, double> { [metric] = value });

    [Fact]
    public void NoVerdictBeforeTheMinimumIntervals()
    {
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 6 };
        IReadOnlyList<RankSample>[] intervals = [Interval(0.1, 0.9, 0.9, 0.9), Interval(0.1, 0.9, 0.9, 0.9)];
        CanaryJudgement j = CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options);
        Assert.Equal(CanaryVerdict.Continue, j.Verdict);
        Assert.Empty(j.Metrics);
        Assert.Contains("not enough measured", j.Reason);
    }

    [Fact]
    public void AHarmfulChangeIsRolledBackWithItsNumbers()
    {
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 6, MadMultiplier = 3, MinHitRatio = 0.05 };
        IReadOnlyList<RankSample>[] intervals = [Interval(0.40, 0.90, 0.88, 0.92), Interval(0.45, 0.91, 0.89, 0.90), Interval(0.42, 0.87, 0.90, 0.93)];
        CanaryJudgement j = CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options);
        Assert.Equal(CanaryVerdict.RollBack, j.Verdict);
        MetricJudgement m = Assert.Single(j.Metrics);
        Assert.Equal(0.42, m.CanaryMedian, 9);
        Assert.Equal(0.90, m.ControlMedian, 9);
        Assert.Equal(0.48, m.Harm, 9);
        // control values 0.87..0.93: deviations from 0.90 are 0,0,0,0.01,0.01,0.01,0.02,0.02,0.03 → MAD 0.01
        Assert.Equal(0.01, m.ControlMad, 9);
        Assert.Equal(3 * CanaryJudge.MadToSigma * 0.01 + 0.05, m.Threshold, 9);
        Assert.True(m.Harmful);
        Assert.Contains("hit_ratio canary 0.42 vs control 0.9", j.Reason);
    }

    /// <summary>The inter-token p95 of every rank in one interval: the canary's, then the control ranks'.</summary>
    static IReadOnlyList<RankSample> Itl(double canary, params double[] control) =>
        [.. control.Select((v, i) => Sample(i, CanaryMetric.InterTokenP95, v)), Sample(3, CanaryMetric.InterTokenP95, canary)];

    [Fact]
    public void AControlWithoutSpreadStillNeedsARelativeEffect()
    {
        // As in the live placement run: sampled p95s that stay at one value, so the control's MAD is 0, and a canary 9 %
        // slower. With the absolute minimum alone (5 ms) that was harm; a tenth of the control's median is not crossed.
        IReadOnlyList<RankSample>[] slightlySlower = [Itl(0.436, 0.400, 0.400, 0.400), Itl(0.436, 0.400, 0.400, 0.400), Itl(0.436, 0.400, 0.400, 0.400)];
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 3 };
        MetricJudgement m = Assert.Single(CanaryJudge.Judge(slightlySlower, OneOfFour, [CanaryMetric.InterTokenP95], options).Metrics);
        Assert.Equal(0, m.ControlMad, 9);
        Assert.Equal(0.04, m.Threshold, 9);
        Assert.False(m.Harmful);
        CanaryJudgement absoluteOnly = CanaryJudge.Judge(slightlySlower, OneOfFour, [CanaryMetric.InterTokenP95], options with { MinRelativeEffect = 0 });
        Assert.Equal(CanaryVerdict.RollBack, absoluteOnly.Verdict);

        // Twice as slow is harm either way.
        IReadOnlyList<RankSample>[] slower = [Itl(0.8, 0.4, 0.4, 0.4), Itl(0.8, 0.4, 0.4, 0.4), Itl(0.8, 0.4, 0.4, 0.4)];
        Assert.Equal(CanaryVerdict.RollBack, CanaryJudge.Judge(slower, OneOfFour, [CanaryMetric.InterTokenP95], options).Verdict);
    }

    [Fact]
    public void TheHitRatioKeepsItsPoints()
    {
        // A ratio already: 10 % of a 0.9 control would be 9 points; the minimum stays 5.
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 3 };
        IReadOnlyList<RankSample>[] intervals = [Interval(0.83, 0.9, 0.9, 0.9), Interval(0.83, 0.9, 0.9, 0.9), Interval(0.83, 0.9, 0.9, 0.9)];
        MetricJudgement m = Assert.Single(CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options).Metrics);
        Assert.Equal(0.05, m.Threshold, 9);
        Assert.True(m.Harmful);
    }

    [Fact]
    public void ADifferenceWithinTheControlsSpreadIsNotHarm()
    {
        // The canary is 0.06 lower, more than the minimum effect alone, but the control ranks spread about 0.05 (MAD).
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 3, MinHitRatio = 0.05 };
        IReadOnlyList<RankSample>[] intervals = [Interval(0.80, 0.80, 0.90, 0.95), Interval(0.78, 0.85, 0.92, 0.82), Interval(0.83, 0.96, 0.86, 0.80)];
        CanaryJudgement j = CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options);
        MetricJudgement m = Assert.Single(j.Metrics);
        Assert.True(m.Harm > options.MinHitRatio, $"harm {m.Harm}");
        Assert.False(m.Harmful);
        Assert.Equal(CanaryVerdict.Promote, j.Verdict);
    }

    [Fact]
    public void AQuietControlStillNeedsTheMinimumEffect()
    {
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 3, MinHitRatio = 0.05 };
        IReadOnlyList<RankSample>[] intervals = [Interval(0.88, 0.9, 0.9, 0.9), Interval(0.88, 0.9, 0.9, 0.9), Interval(0.88, 0.9, 0.9, 0.9)];
        MetricJudgement m = Assert.Single(CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options).Metrics);
        Assert.Equal(0, m.ControlMad);
        Assert.False(m.Harmful);
    }

    [Fact]
    public void LowerIsBetterForLatency()
    {
        var options = new CanaryOptions { MinIntervals = 2, Intervals = 4, MinInterTokenSeconds = 0.005 };
        IReadOnlyList<RankSample>[] slower =
        [
            [Sample(0, CanaryMetric.InterTokenP95, 0.030), Sample(1, CanaryMetric.InterTokenP95, 0.031), Sample(2, CanaryMetric.InterTokenP95, 0.060)],
            [Sample(0, CanaryMetric.InterTokenP95, 0.029), Sample(1, CanaryMetric.InterTokenP95, 0.030), Sample(2, CanaryMetric.InterTokenP95, 0.055)],
        ];
        var ranks = new CanaryRanks([2], [0, 1]);
        CanaryJudgement j = CanaryJudge.Judge(slower, ranks, [CanaryMetric.InterTokenP95], options);
        Assert.Equal(CanaryVerdict.RollBack, j.Verdict);
        Assert.True(j.Metrics[0].Harm > 0.02);

        IReadOnlyList<RankSample>[] faster = [.. slower.Select(i => (IReadOnlyList<RankSample>)[.. i.Select(s => s.Rank == 2 ? Sample(2, CanaryMetric.InterTokenP95, 0.020) : s)])];
        MetricJudgement better = Assert.Single(CanaryJudge.Judge(faster, ranks, [CanaryMetric.InterTokenP95], options).Metrics);
        Assert.True(better.Harm < 0);
        Assert.True(better.Helpful);
    }

    [Fact]
    public void PromotedAfterTheConfiguredIntervalsWhenNothingHurt()
    {
        var options = new CanaryOptions { MinIntervals = 3, Intervals = 4 };
        var intervals = new List<IReadOnlyList<RankSample>>();
        for (int i = 0; i < 3; i++) intervals.Add(Interval(0.95, 0.8, 0.78, 0.81));
        Assert.Equal(CanaryVerdict.Continue, CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options).Verdict);
        intervals.Add(Interval(0.95, 0.8, 0.78, 0.81));
        CanaryJudgement j = CanaryJudge.Judge(intervals, OneOfFour, HitRatio, options);
        Assert.Equal(CanaryVerdict.Promote, j.Verdict);
        Assert.Equal(4, j.Interval);
        Assert.True(j.Metrics[0].Helpful);
    }

    [Fact]
    public void NothingMeasuredIsRolledBackAtTheEnd()
    {
        var options = new CanaryOptions { MinIntervals = 2, Intervals = 2 };
        IReadOnlyList<RankSample>[] intervals = [Interval(0.9, 0.9, 0.9, 0.9), Interval(0.9, 0.9, 0.9, 0.9)];
        CanaryJudgement j = CanaryJudge.Judge(intervals, OneOfFour, [CanaryMetric.InterTokenP95], options);
        Assert.Equal(CanaryVerdict.RollBack, j.Verdict);
        Assert.Contains("could not be judged", j.Reason);
    }

    [Fact]
    public void RanksOnBothSidesAreRefused()
    {
        var e = Assert.Throws<ArgumentException>(() => CanaryJudge.Judge([], new CanaryRanks([1], [0, 1]), HitRatio, new CanaryOptions()));
        Assert.Contains("rank(s) 1 both canary and control", e.Message);
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3 }, 1, 0.0, new[] { 3 })]
    [InlineData(new[] { 2, 0, 1, 3 }, 1, 0.5, new[] { 2, 3 })]
    [InlineData(new[] { 0, 1 }, 3, 0.0, new[] { 1 })]
    [InlineData(new[] { 0, 1, 2 }, 1, 0.1, new[] { 2 })]
    public void CanaryRanksAreTheHighestAndLeaveAControl(int[] live, int count, double share, int[] canary)
    {
        CanaryRanks ranks = CanaryRanks.Choose(live, new CanaryOptions { Ranks = count, Share = share });
        Assert.Equal(canary, ranks.Canary);
        Assert.Equal(live.Order().Except(canary), ranks.Control);
    }

    [Fact]
    public void OneLiveRankCannotHoldATrial()
    {
        var e = Assert.Throws<InvalidOperationException>(() => CanaryRanks.Choose([0], new CanaryOptions()));
        Assert.Contains("at least two live ranks", e.Message);
    }

    [Theory]
    [InlineData(nameof(CanaryOptions.Ranks))]
    [InlineData(nameof(CanaryOptions.Share))]
    [InlineData(nameof(CanaryOptions.MinIntervals))]
    [InlineData(nameof(CanaryOptions.Intervals))]
    [InlineData(nameof(CanaryOptions.MadMultiplier))]
    [InlineData(nameof(CanaryOptions.MinHitRatio))]
    public void OptionsOutOfRangeAreNamed(string name)
    {
        CanaryOptions bad = name switch
        {
            nameof(CanaryOptions.Ranks) => new() { Ranks = 0 },
            nameof(CanaryOptions.Share) => new() { Share = 1 },
            nameof(CanaryOptions.MinIntervals) => new() { MinIntervals = 1 },
            nameof(CanaryOptions.Intervals) => new() { Intervals = 2, MinIntervals = 3 },
            nameof(CanaryOptions.MadMultiplier) => new() { MadMultiplier = 0 },
            _ => new() { MinHitRatio = double.NaN },
        };
        var e = Assert.Throws<ArgumentException>(bad.Validate);
        Assert.Contains($"CanaryOptions.{name}", e.Message);
        new CanaryOptions().Validate();
    }

    [Fact]
    public void MetricNamesParseBothWays()
    {
        foreach (CanaryMetric m in CanaryMetrics.All) Assert.Equal(m, CanaryMetrics.Parse(CanaryMetrics.Name(m)));
        Assert.Equal(CanaryMetric.HotHitRatio, CanaryMetrics.Parse("HotHitRatio"));
        var e = Assert.Throws<ArgumentException>(() => CanaryMetrics.Parse("p99"));
        Assert.Contains("'p99' is not a canary metric", e.Message);
    }

    [Fact]
    public void SamplesComeFromTheTierStoreCounters()
    {
        var uses = new Dictionary<ExpertKey, long>();
        var before = new RankCounters(100, 10, 0, 0.03, 0, 0, 0, uses);
        var after = new RankCounters(180, 30, 0, 0.09, 0, 0, 0, uses);
        RankSample s = CanarySamples.From(2, before, after, new ObservedLatency(0.03, null));
        Assert.Equal(80.0 / 100, s.Values[CanaryMetric.HotHitRatio], 9);
        Assert.Equal(0.06 / 100 * 1000, s.Values[CanaryMetric.FetchStallPerThousandCalls], 9);
        Assert.Equal(0.03, s.Values[CanaryMetric.InterTokenP95]);
        Assert.False(s.Values.ContainsKey(CanaryMetric.TimeToFirstTokenP95));
        // A restart between the reads: the counters' interval is not comparable.
        Assert.False(CanarySamples.From(2, after, before, ObservedLatency.None).Values.ContainsKey(CanaryMetric.HotHitRatio));
    }
}
