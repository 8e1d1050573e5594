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
    /// Viewer tokens: bearer tokens (or X-Api-Key values) that may read /metrics, the JSON views, the dashboard and
    /// /v1/router. Empty (and no <see cref="OperatorTokens"/>): the silo makes one at start, writes it to
    /// <see cref="TokenFile"/> and logs only its fingerprint, so telemetry is never open by accident.
    /// </summary>
    public string[] Tokens { get; set; } = [];
    /// <summary>Operator tokens: everything a viewer token may, plus the writes (tenant deletion, /v1/control changes).</summary>
    public string[] OperatorTokens { get; set; } = [];
    /// <summary>
    /// Where a generated viewer token is written (mode 0600); empty: <c>moe-silo-{port}.token</c> in the temp directory.
    /// </summary>
    public string TokenFile { get; set; } = "";
    /// <summary>JSON lines on stderr instead of the human console format.</summary>
    public bool JsonLogs { get; set; } = true;
}
