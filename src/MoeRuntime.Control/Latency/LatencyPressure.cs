using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Latency;

/// <summary>
/// How the observed latencies stand against their targets, and what that means for the hot memory the latency
/// controller may use (its allowance) and for telemetry sampling.
/// </summary>
static class LatencyPressure
{
    /// <summary>The worst observed/target ratio over the targets that were measured; null when none was.</summary>
    public static double? Of(ObservedLatency observed, LatencyControllerOptions options)
    {
        double? worst = null;
        foreach (var (actual, target) in (ReadOnlySpan<(double?, double?)>)
                 [(observed.P95InterTokenSeconds, options.TargetP95InterTokenSeconds), (observed.P95TimeToFirstTokenSeconds, options.TargetP95TimeToFirstTokenSeconds)])
            if (actual is { } a && target is { } t)
                worst = Math.Max(worst ?? 0, a / t);
        return worst;
    }

    /// <summary>True when every measured target holds with the give-back margin.</summary>
    public static bool HoldsWithMargin(double? pressure, LatencyControllerOptions options) =>
        pressure is { } p && p <= 1 - options.GiveBackMargin;

    /// <summary>
    /// The next hot allowance: grows from what is in use by <see cref="LatencyControllerOptions.GrowStep"/> of the budget
    /// while over target, shrinks by <see cref="LatencyControllerOptions.ShrinkStep"/> while every target holds with
    /// margin, else stays; always within [min share, budget]. Unmeasured latency changes nothing.
    /// </summary>
    public static long NextAllowance(long current, long hotUsed, long budget, double? pressure, LatencyControllerOptions options)
    {
        long floor = (long)Math.Floor(options.MinHotShare * budget);
        long next = pressure switch
        {
            > 1 => Math.Max(current, hotUsed) + (long)Math.Ceiling(options.GrowStep * budget),
            _ when HoldsWithMargin(pressure, options) => Math.Min(current, hotUsed) - (long)Math.Ceiling(options.ShrinkStep * budget),
            _ => current,
        };
        return Math.Clamp(next, Math.Min(floor, budget), budget);
    }

    /// <summary>Halves sampling while over target, doubles it back towards the base once targets hold with margin.</summary>
    public static double? SampleRatio(double current, double? pressure, LatencyControllerOptions options)
    {
        if (pressure > 1 && current > options.MinSampleRatio)
            return Math.Max(options.MinSampleRatio, current / 2);
        if (HoldsWithMargin(pressure, options) && current < options.BaseSampleRatio)
            return Math.Min(options.BaseSampleRatio, current * 2);
        return null;
    }
}
