namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>Median and range of repeated measurements, as the scale table prints them.</summary>
internal sealed class Spread(IEnumerable<double> samples)
{
    readonly double[] _sorted = samples.Order().ToArray();

    public double Median => _sorted.Length % 2 == 1
        ? _sorted[_sorted.Length / 2]
        : (_sorted[_sorted.Length / 2 - 1] + _sorted[_sorted.Length / 2]) / 2;

    public string Format(string number) =>
        $"{Median.ToString(number)} ({_sorted[0].ToString(number)}–{_sorted[^1].ToString(number)})";
}
