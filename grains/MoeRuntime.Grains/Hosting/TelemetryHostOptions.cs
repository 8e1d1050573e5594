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
    /// <summary>Error traces: the span tree of a failed or slow request is exported even when head sampling passed it over.</summary>
    public ErrorTraceOptions ErrorTraces { get; set; } = new();
}

/// <summary>
/// The tail decision at the router (section <c>Telemetry:ErrorTraces</c>): with an OTLP endpoint, every request's
/// spans on its router's rank are recorded into a bounded buffer, and exported when the request fails or runs slow.
/// </summary>
public sealed class ErrorTraceOptions
{
    /// <summary>False: only head sampling (<see cref="TelemetryHostOptions.TraceSampleRatio"/>) decides which traces are kept.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>A request that takes at least this long (seconds, receipt to end) is kept like a failed one.</summary>
    public double SlowRequestSeconds { get; set; } = 30;
    /// <summary>Requests whose spans are held at once; when full the oldest request's spans are dropped and counted.</summary>
    public int MaxBufferedRequests { get; set; } = 512;
    /// <summary>Spans held per request; more are dropped and counted.</summary>
    public int MaxSpansPerRequest { get; set; } = 256;
}
