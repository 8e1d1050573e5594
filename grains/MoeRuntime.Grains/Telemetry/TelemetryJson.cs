using System.Text.Json;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>How views are written for dashboards: camelCase, infinities as strings rather than errors.</summary>
public static class TelemetryJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
