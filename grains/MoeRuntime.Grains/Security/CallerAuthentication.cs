using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Security;
using MoeRuntime.Telemetry.Export;

namespace MoeRuntime.Grains.Security;

/// <summary>
/// The silo's side of the proofs (docs/security.md): the internal call key, the cluster CA, and how a caller that proves
/// nothing is treated. Also counts and logs refusals, once per caller and method per minute.
/// </summary>
public sealed partial class CallerAuthentication
{
    static readonly TimeSpan LogInterval = TimeSpan.FromMinutes(1);
    const int MaxLogKeys = 4096;

    readonly ILogger<CallerAuthentication> _logger;
    readonly PrometheusExporter? _exporter;
    readonly TimeProvider _time;
    readonly Dictionary<string, DateTimeOffset> _lastLogged = new(StringComparer.Ordinal);

    public CallerAuthentication(IOptions<MoeSecurityOptions> options, TimeProvider time, ILogger<CallerAuthentication> logger, PrometheusExporter? exporter = null)
    {
        MoeSecurityOptions o = options.Value;
        _logger = logger;
        _exporter = exporter;
        _time = time;
        Tls = o.Tls;
        Internal = string.IsNullOrWhiteSpace(o.InternalKeyFile) ? null : InternalCallProof.FromFile(o.InternalKeyFile);
        Trust = string.IsNullOrWhiteSpace(o.CertificateAuthority) ? null : new ClusterTrust(DevCertificateAuthority.LoadAuthority(o.CertificateAuthority), time);
        AnonymousRole = o.Tls ? MoeRole.Client : MoeRoles.TryParse(o.AnonymousRole, out MoeRole role) ? role : MoeRole.None;
        if (!o.Tls) LogInsecure(_logger, MoeRoles.Name(AnonymousRole));
    }

    /// <summary>Whether the links are mutual TLS.</summary>
    public bool Tls { get; }
    /// <summary>The internal call key, when configured: then only its proofs make a caller internal.</summary>
    public InternalCallProof? Internal { get; }
    /// <summary>The cluster CA, when configured: operator calls are signed by certificates it issued.</summary>
    public ClusterTrust? Trust { get; }
    /// <summary>The role of a caller with no proof (settable by in-process tests once their cluster is up).</summary>
    public MoeRole AnonymousRole { get; internal set; }
    public TimeProvider Time => _time;

    /// <summary>Counts a refusal of <paramref name="kind"/> and logs it unless this caller's was logged in the last minute.</summary>
    public void Denied(string kind, string caller, string what, string reason)
    {
        _exporter?.SecurityDenied(kind);
        string key = $"{kind}|{caller}|{what}";
        DateTimeOffset now = _time.GetUtcNow();
        lock (_lastLogged)
        {
            if (_lastLogged.TryGetValue(key, out DateTimeOffset last) && now - last < LogInterval) return;
            if (_lastLogged.Count >= MaxLogKeys) _lastLogged.Clear();
            _lastLogged[key] = now;
        }
        LogDenied(_logger, kind, caller, what, reason);
    }

    [LoggerMessage(EventId = 1501, Level = LogLevel.Warning, Message = "Refused ({Kind}) {Caller} calling {What}: {Reason} (logged once a minute per caller)")]
    static partial void LogDenied(ILogger logger, string kind, string caller, string what, string reason);

    [LoggerMessage(EventId = 1500, Level = LogLevel.Warning, Message = "INSECURE: no TLS on the silo and gateway ports (Moe:Security:Tls is off); callers are not authenticated and one that proves nothing is treated as '{Role}'. Fine on localhost, never across machines (docs/security.md)")]
    static partial void LogInsecure(ILogger logger, string role);
}
