namespace MoeRuntime.Control.Canary;

/// <summary>
/// How a control change is tried on a canary before it reaches every rank: which ranks carry it, for how many
/// intervals, and the noise rule that judges it (see <see cref="CanaryJudge"/>).
/// </summary>
public sealed record CanaryOptions
{
    /// <summary>False refuses every trial.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Canary ranks when <see cref="Share"/> is 0; always at least one rank is left as control.</summary>
    public int Ranks { get; init; } = 1;

    /// <summary>Share of the live ranks that carry the change (rounded up, at least one); 0 uses <see cref="Ranks"/>.</summary>
    public double Share { get; init; }

    /// <summary>Intervals judged before the change is promoted.</summary>
    public int Intervals { get; init; } = 6;

    /// <summary>Intervals measured on both sides before any verdict: a roll-back on fewer is a roll-back on noise.</summary>
    public int MinIntervals { get; init; } = 3;

    /// <summary>How many robust standard deviations (1.4826 × the control's median absolute deviation) the canary may be worse by.</summary>
    public double MadMultiplier { get; init; } = 3;

    /// <summary>
    /// A tier controller's plan for one rank that moves more than this many experts is tried as a canary trial on that
    /// rank instead of written (<see cref="AutoTrial"/>); 0 turns it off (the default: see docs/control.md).
    /// </summary>
    public int AutoTrialAbove { get; init; }

    /// <summary>
    /// The balancer's placement plans (not dry runs) are tried on the canary ranks' routers first instead of written for
    /// every router; off by default.
    /// </summary>
    public bool PlacementTrials { get; init; }

    /// <summary>Smallest worsening of p95 inter-token latency that counts, seconds.</summary>
    public double MinInterTokenSeconds { get; init; } = 0.005;

    /// <summary>Smallest worsening of p95 time to first token that counts, seconds.</summary>
    public double MinTimeToFirstTokenSeconds { get; init; } = 0.05;

    /// <summary>Smallest drop of the hot hit ratio that counts (0.05 = five points).</summary>
    public double MinHitRatio { get; init; } = 0.05;

    /// <summary>Smallest rise of fetch stall that counts, seconds per 1000 expert calls.</summary>
    public double MinStallSecondsPerThousandCalls { get; init; } = 0.25;

    /// <summary>Smallest rise of the cost per 1000 tokens that counts, dollars.</summary>
    public double MinDollarsPerThousandTokens { get; init; } = 0.0001;

    /// <summary>
    /// Smallest worsening that counts as a share of the control's median, for the latencies, the stall and the cost (the
    /// hit ratio, a share already, keeps its points): 0.1 = a canary 10 % slower than the control is never harm by itself.
    /// It matters when the control's spread is not measured: a rank's p95 is read from sampled tokens, and over a few
    /// intervals the control ranks' p95s can be the same value, a MAD of 0 that leaves only the absolute minimum (5 ms
    /// against p95s of hundreds of ms on a loaded machine). 0 turns it off.
    /// </summary>
    public double MinRelativeEffect { get; init; } = 0.1;

    /// <summary>
    /// The minimum effect of <paramref name="metric"/>, in its units: its absolute minimum, or for every metric but the
    /// hit ratio <see cref="MinRelativeEffect"/> of <paramref name="controlMedian"/> when that is larger.
    /// </summary>
    public double MinEffect(CanaryMetric metric, double controlMedian) =>
        metric == CanaryMetric.HotHitRatio ? MinEffect(metric) : Math.Max(MinEffect(metric), MinRelativeEffect * Math.Abs(controlMedian));

    /// <summary>The minimum absolute effect of <paramref name="metric"/>, in its units.</summary>
    public double MinEffect(CanaryMetric metric) => metric switch
    {
        CanaryMetric.InterTokenP95 => MinInterTokenSeconds,
        CanaryMetric.TimeToFirstTokenP95 => MinTimeToFirstTokenSeconds,
        CanaryMetric.HotHitRatio => MinHitRatio,
        CanaryMetric.FetchStallPerThousandCalls => MinStallSecondsPerThousandCalls,
        CanaryMetric.DollarsPerThousandTokens => MinDollarsPerThousandTokens,
        _ => throw new ArgumentOutOfRangeException(nameof(metric), metric, "not a canary metric"),
    };

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Ranks < 1) throw new ArgumentException($"CanaryOptions.Ranks must be at least 1, was {Ranks}", nameof(Ranks));
        if (!(Share >= 0 && Share < 1)) throw new ArgumentException($"CanaryOptions.Share must be in [0, 1) (0 uses Ranks), was {Share}", nameof(Share));
        if (MinIntervals < 2) throw new ArgumentException($"CanaryOptions.MinIntervals must be at least 2 (a median absolute deviation needs two values), was {MinIntervals}", nameof(MinIntervals));
        if (Intervals < MinIntervals) throw new ArgumentException($"CanaryOptions.Intervals must be at least MinIntervals ({MinIntervals}), was {Intervals}", nameof(Intervals));
        if (AutoTrialAbove < 0) throw new ArgumentException($"CanaryOptions.AutoTrialAbove must be at least 0 (0 turns it off), was {AutoTrialAbove}", nameof(AutoTrialAbove));
        if (!(MadMultiplier > 0) || double.IsInfinity(MadMultiplier)) throw new ArgumentException($"CanaryOptions.MadMultiplier must be positive and finite, was {MadMultiplier}", nameof(MadMultiplier));
        Check(MinInterTokenSeconds, nameof(MinInterTokenSeconds));
        Check(MinTimeToFirstTokenSeconds, nameof(MinTimeToFirstTokenSeconds));
        Check(MinHitRatio, nameof(MinHitRatio));
        Check(MinStallSecondsPerThousandCalls, nameof(MinStallSecondsPerThousandCalls));
        Check(MinDollarsPerThousandTokens, nameof(MinDollarsPerThousandTokens));
        if (!(MinRelativeEffect >= 0 && MinRelativeEffect < 1)) throw new ArgumentException($"CanaryOptions.MinRelativeEffect must be in [0, 1) (0 turns it off), was {MinRelativeEffect}", nameof(MinRelativeEffect));
    }

    static void Check(double value, string name)
    {
        if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentException($"CanaryOptions.{name} must be a finite number at least 0, was {value}", name);
    }
}
