namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// When an expert call that has not answered is also sent to a copy on the calling rank ("hedged", as in Dean and
/// Barroso's "The Tail at Scale"): <see cref="Multiplier"/> times the slowest recent call, where "recent" decays with
/// <see cref="HalfLife"/>, and never below <see cref="Minimum"/> nor above <see cref="Maximum"/>. A loaded cluster's
/// calls grow slow together, so the delay grows with them and hedges stay rare; a call to a rank that died mid-call is
/// answered by the local copy after a fraction of a second instead of the call's full deadline. Safe from any thread.
/// </summary>
public sealed class HedgeDelay
{
    readonly Lock _lock = new();
    readonly double _halfLifeSeconds;
    double _slowestSeconds;
    long _updatedTicks;

    /// <param name="minimum">The shortest delay, whatever the recent calls took.</param>
    /// <param name="maximum">The longest delay (the call's own deadline: hedging later than that is pointless).</param>
    /// <param name="multiplier">How many times the slowest recent call a call may take before it is hedged.</param>
    /// <param name="halfLife">How fast a slow call is forgotten.</param>
    public HedgeDelay(TimeSpan minimum, TimeSpan maximum, double multiplier = 4, TimeSpan? halfLife = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(minimum, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(maximum, minimum);
        if (!(multiplier >= 1) || double.IsInfinity(multiplier)) throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "must be a finite number of at least 1");
        Minimum = minimum;
        Maximum = maximum;
        Multiplier = multiplier;
        HalfLife = halfLife ?? TimeSpan.FromSeconds(10);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HalfLife, TimeSpan.Zero);
        _halfLifeSeconds = HalfLife.TotalSeconds;
    }

    public TimeSpan Minimum { get; }
    public TimeSpan Maximum { get; }
    public double Multiplier { get; }
    public TimeSpan HalfLife { get; }

    /// <summary>Records how long a call that answered took, at <paramref name="nowTicks"/> (<see cref="System.Diagnostics.Stopwatch"/> ticks).</summary>
    public void Record(TimeSpan took, long nowTicks)
    {
        lock (_lock)
        {
            double decayed = Decayed(nowTicks);
            _slowestSeconds = Math.Max(decayed, took.TotalSeconds);
            _updatedTicks = nowTicks;
        }
    }

    /// <summary>How long a call started at <paramref name="nowTicks"/> may go unanswered before it is hedged.</summary>
    public TimeSpan DelayAt(long nowTicks)
    {
        double slowest;
        lock (_lock) slowest = Decayed(nowTicks);
        double seconds = Math.Clamp(slowest * Multiplier, Minimum.TotalSeconds, Maximum.TotalSeconds);
        return TimeSpan.FromSeconds(seconds);
    }

    double Decayed(long nowTicks)
    {
        if (_updatedTicks == 0 || nowTicks <= _updatedTicks) return _slowestSeconds;
        double elapsed = (nowTicks - _updatedTicks) / (double)System.Diagnostics.Stopwatch.Frequency;
        return _slowestSeconds * Math.Pow(0.5, elapsed / _halfLifeSeconds);
    }
}
