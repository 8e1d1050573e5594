using System.ComponentModel;
using System.Globalization;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>
/// The one spelling of a <see cref="TelemetryWindow"/>: <c>20s</c>, <c>1m</c>, <c>5m</c>, <c>1h</c>. Views, HTTP queries
/// and options all parse through here; configuration binds a window through <see cref="TelemetryWindowConverter"/>.
/// </summary>
public static class TelemetryWindows
{
    /// <summary>The names, shortest window first.</summary>
    public static IReadOnlyList<string> Names { get; } = ["20s", "1m", "5m", "1h"];

    public static string Name(TelemetryWindow window) => window switch
    {
        TelemetryWindow.TwentySeconds => "20s",
        TelemetryWindow.OneMinute => "1m",
        TelemetryWindow.FiveMinutes => "5m",
        TelemetryWindow.OneHour => "1h",
        _ => throw new ArgumentOutOfRangeException(nameof(window), window, "not a telemetry window"),
    };

    public static bool TryParse(string? name, out TelemetryWindow window)
    {
        (bool known, window) = name switch
        {
            "20s" => (true, TelemetryWindow.TwentySeconds),
            "1m" => (true, TelemetryWindow.OneMinute),
            "5m" => (true, TelemetryWindow.FiveMinutes),
            "1h" => (true, TelemetryWindow.OneHour),
            _ => (false, default),
        };
        return known;
    }

    /// <exception cref="ArgumentException">Not one of <see cref="Names"/>.</exception>
    public static TelemetryWindow Parse(string? name) =>
        TryParse(name, out TelemetryWindow window) ? window : throw new ArgumentException($"unknown window '{name}' ({string.Join(", ", Names)})");
}

/// <summary>Converts <c>20s</c>, <c>1m</c>, <c>5m</c>, <c>1h</c> to and from <see cref="TelemetryWindow"/> (what configuration binding uses).</summary>
public sealed class TelemetryWindowConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override bool CanConvertTo(ITypeDescriptorContext? context, Type? destinationType) =>
        destinationType == typeof(string) || base.CanConvertTo(context, destinationType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string name ? TelemetryWindows.Parse(name) : base.ConvertFrom(context, culture, value);

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType) =>
        destinationType == typeof(string) && value is TelemetryWindow window ? TelemetryWindows.Name(window) : base.ConvertTo(context, culture, value, destinationType);
}
