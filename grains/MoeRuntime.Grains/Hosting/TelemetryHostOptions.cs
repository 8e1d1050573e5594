namespace MoeRuntime.Grains.Hosting;

/// <summary>Where traces, metrics and logs go (section <c>Telemetry</c>).</summary>
public sealed class TelemetryHostOptions
{
    public const string Section = "Telemetry";

    /// <summary>OTLP endpoint (e.g. http://127.0.0.1:4317); empty keeps traces and OTel metrics in process.</summary>
    public string OtlpEndpoint { get; set; } = "";
    /// <summary>Share of new traces recorded (head sampling; 5 % keeps tracing within the overhead budget); a sampled parent's children are always kept.</summary>
    public double TraceSampleRatio { get; set; } = 0.05;
    /// <summary>
    /// Bearer tokens (or X-Api-Key values) that may read /metrics, the JSON views and the dashboard.
    /// Empty: the silo makes one at start and logs it, so telemetry is never open by accident.
    /// </summary>
    public string[] Tokens { get; set; } = [];
    /// <summary>JSON lines on stderr instead of the human console format.</summary>
    public bool JsonLogs { get; set; } = true;
}
