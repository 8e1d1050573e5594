using System.ComponentModel;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Telemetry.Tests.Aggregation;

/// <summary>A window has one spelling, which the views, the HTTP queries and configuration binding all parse.</summary>
public sealed class TelemetryWindowsTests
{
    [Fact]
    public void EveryWindowRoundTripsThroughItsName()
    {
        Assert.Equal(Enum.GetValues<TelemetryWindow>().Length, TelemetryWindows.Names.Count);
        foreach (TelemetryWindow window in Enum.GetValues<TelemetryWindow>())
            Assert.Equal(window, TelemetryWindows.Parse(TelemetryWindows.Name(window)));
        Assert.Equal(["20s", "1m", "5m", "1h"], TelemetryWindows.Names);
    }

    [Theory]
    [InlineData("")]
    [InlineData("2m")]
    [InlineData("OneMinute")]
    [InlineData("1")]
    [InlineData(null)]
    public void AnythingElseIsRefusedWithTheKnownNames(string? name)
    {
        Assert.False(TelemetryWindows.TryParse(name, out _));
        Assert.Equal($"unknown window '{name}' (20s, 1m, 5m, 1h)", Assert.Throws<ArgumentException>(() => TelemetryWindows.Parse(name)).Message);
    }

    [Fact]
    public void ConfigurationBindingConvertsTheNamesNotTheEnumsNumbersOrMemberNames()
    {
        TypeConverter converter = TypeDescriptor.GetConverter(typeof(TelemetryWindow));
        Assert.Equal(TelemetryWindow.FiveMinutes, converter.ConvertFromInvariantString("5m"));
        Assert.Equal("20s", converter.ConvertToInvariantString(TelemetryWindow.TwentySeconds));
        Assert.Throws<ArgumentException>(() => converter.ConvertFromInvariantString("2"));
        Assert.Throws<ArgumentException>(() => converter.ConvertFromInvariantString("FiveMinutes"));
    }
}
