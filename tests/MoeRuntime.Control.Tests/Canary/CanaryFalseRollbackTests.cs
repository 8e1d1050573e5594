using MoeRuntime.Control.Canary;
using Xunit.Abstractions;

namespace MoeRuntime.Control.Tests.Canary;

/// <summary>
/// The noise rule measured by simulation with a seeded generator: how often a change with no effect at all is rolled
/// back (the false roll-back rate), and how soon a harmful one is. Each simulated trial has one canary and three control
/// ranks judged after every interval, as the live trial is; each rank-interval value is a base, plus a shift every rank
/// shares that interval (load), plus a per-rank offset fixed for the trial (ranks hold different experts), plus noise
/// with heavy tails (a Student-t with 3 degrees of freedom: GC pauses, bursts). The figures are in docs/control.md.
/// </summary>
public sealed class CanaryFalseRollbackTests(ITestOutputHelper output)
{
    const int Trials = 4000;
    static readonly CanaryRanks Ranks = new([3], [0, 1, 2]);
    static readonly CanaryMetric[] Targeted =
        [CanaryMetric.InterTokenP95, CanaryMetric.TimeToFirstTokenP95, CanaryMetric.HotHitRatio, CanaryMetric.FetchStallPerThousandCalls];

    /// <summary>Per metric: base, shared shift, rank offset and noise scales, roughly as the live scenario's intervals vary.</summary>
    static (double Base, double Shift, double Offset, double Noise) Shape(CanaryMetric metric) => metric switch
    {
        CanaryMetric.InterTokenP95 => (0.030, 0.003, 0.002, 0.003),
        CanaryMetric.TimeToFirstTokenP95 => (0.250, 0.030, 0.015, 0.030),
        CanaryMetric.HotHitRatio => (0.85, 0.03, 0.02, 0.03),
        _ => (1.5, 0.2, 0.15, 0.2),
    };

    static double Gaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    /// <summary>Student-t with 3 degrees of freedom scaled to unit variance.</summary>
    static double HeavyTail(Random random)
    {
        double z = Gaussian(random), chi = 0;
        for (int i = 0; i < 3; i++) chi += Math.Pow(Gaussian(random), 2);
        return z / Math.Sqrt(chi / 3) / Math.Sqrt(3);
    }

    /// <summary>One trial; returns the interval it was rolled back after, or 0 if promoted.</summary>
    static int Run(Random random, CanaryOptions options, Func<CanaryMetric, double> effect)
    {
        var offsets = Targeted.ToDictionary(m => m, m => Enumerable.Range(0, 4).Select(_ => Gaussian(random) * Shape(m).Offset).ToArray());
        var intervals = new List<IReadOnlyList<RankSample>>();
        for (int i = 1; i <= options.Intervals; i++)
        {
            var shifts = Targeted.ToDictionary(m => m, m => Gaussian(random) * Shape(m).Shift);
            intervals.Add([.. Enumerable.Range(0, 4).Select(rank => new RankSample(rank, Targeted.ToDictionary(m => m, m =>
                Shape(m).Base + shifts[m] + offsets[m][rank] + HeavyTail(random) * Shape(m).Noise + (rank == 3 ? effect(m) : 0))))]);
            CanaryJudgement j = CanaryJudge.Judge(intervals, Ranks, Targeted, options);
            if (j.Verdict == CanaryVerdict.RollBack) return i;
            if (j.Verdict == CanaryVerdict.Promote) return 0;
        }
        throw new InvalidOperationException("the trial neither ended nor rolled back");
    }

    static double[] Simulate(CanaryOptions options, Func<CanaryMetric, double> effect, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, Trials).Select(_ => (double)Run(random, options, effect))];
    }

    [Fact]
    public void WithNoEffectFewTrialsAreRolledBack()
    {
        var defaults = new CanaryOptions();
        double[] rolledBack = Simulate(defaults, _ => 0, seed: 21);
        double rate = rolledBack.Count(i => i > 0) / (double)Trials;
        double[] noFloor = Simulate(defaults with { MinInterTokenSeconds = 0, MinTimeToFirstTokenSeconds = 0, MinHitRatio = 0, MinStallSecondsPerThousandCalls = 0, MinRelativeEffect = 0 }, _ => 0, seed: 21);
        double rateNoFloor = noFloor.Count(i => i > 0) / (double)Trials;
        double[] absolute = Simulate(defaults with { MinRelativeEffect = 0 }, _ => 0, seed: 21);
        double rateAbsolute = absolute.Count(i => i > 0) / (double)Trials;
        double[] k2 = Simulate(defaults with { MadMultiplier = 2, MinInterTokenSeconds = 0, MinTimeToFirstTokenSeconds = 0, MinHitRatio = 0, MinStallSecondsPerThousandCalls = 0, MinRelativeEffect = 0 }, _ => 0, seed: 21);
        double rateK2 = k2.Count(i => i > 0) / (double)Trials;
        output.WriteLine($"no effect, {Trials} trials, 4 metrics, 1 canary vs 3 control ranks, {defaults.Intervals} intervals judged from {defaults.MinIntervals}: " +
            $"false roll-backs k=3 with minimum effects {rate:P2}, k=3 with the absolute minimums only {rateAbsolute:P2}, k=3 without {rateNoFloor:P2}, k=2 without {rateK2:P2}");
        Assert.True(rate <= 0.01, $"false roll-back rate {rate:P2} with the default options");
        Assert.True(rate <= rateAbsolute, "a larger minimum effect cannot roll back more often");
        Assert.True(rateNoFloor <= 0.10, $"false roll-back rate {rateNoFloor:P2} without minimum effects");
        Assert.True(rateK2 > rateNoFloor, "a smaller multiplier must roll back more often under no effect, or the simulation measures nothing");
    }

    [Fact]
    public void AHarmfulChangeIsRolledBackAtTheFirstJudgedInterval()
    {
        var defaults = new CanaryOptions();
        // The hottest experts demoted: the canary's hit ratio 30 points lower, its stall three times the control's.
        double[] rolledBack = Simulate(defaults, m => m switch
        {
            CanaryMetric.HotHitRatio => -0.30,
            CanaryMetric.FetchStallPerThousandCalls => 3.0,
            _ => 0,
        }, seed: 7);
        double atFirst = rolledBack.Count(i => i == defaults.MinIntervals) / (double)Trials;
        output.WriteLine($"hit ratio -0.30 and stall +3 s/1k calls: rolled back at interval {defaults.MinIntervals} in {atFirst:P2}, " +
            $"by the end in {rolledBack.Count(i => i > 0) / (double)Trials:P2}");
        Assert.True(atFirst >= 0.99, $"rolled back at the first judged interval in only {atFirst:P2} of trials");

        // A small harm, under the minimum effect: mostly promoted.
        double[] small = Simulate(defaults, m => m == CanaryMetric.HotHitRatio ? -0.01 : 0, seed: 8);
        double smallRate = small.Count(i => i > 0) / (double)Trials;
        output.WriteLine($"hit ratio -0.01: rolled back in {smallRate:P2}");
        Assert.True(smallRate <= 0.02, $"a one-point drop was rolled back in {smallRate:P2} of trials");
    }
}
