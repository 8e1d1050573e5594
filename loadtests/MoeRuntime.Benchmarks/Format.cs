using System.Globalization;

namespace MoeRuntime.Benchmarks;

/// <summary>Number formatting shared by the tables (invariant culture, so reports diff cleanly).</summary>
static class Format
{
    public static string Ms(double value) => value.ToString(value < 1 ? "0.000" : value < 100 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    public static string Rate(double value) => value.ToString(value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture);

    public static string Percent(double ratio) => (ratio * 100).ToString("0", CultureInfo.InvariantCulture) + " %";

    public static string Ratio(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x";

    public static string Range(string low, string high) => $"{low} – {high}";

    /// <summary>Time spread as p10–p90 of milliseconds per op.</summary>
    public static string MsSpread(Timing t) => Range(Ms(t.P10), Ms(t.P90));

    /// <summary>The same spread as a rate of <paramref name="workPerOp"/> per second (fast end is the p10 time).</summary>
    public static string RateSpread(Timing t, double workPerOp, double unit) =>
        Range(Rate(workPerOp / t.P90 * 1e3 / unit), Rate(workPerOp / t.P10 * 1e3 / unit));

    public static double PerSecond(Timing t, double workPerOp, double unit) => workPerOp / t.Median * 1e3 / unit;
}
