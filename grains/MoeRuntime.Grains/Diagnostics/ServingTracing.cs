using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>
/// Spans of the serving path: the request at the router, expert dispatch per layer, the expert call
/// on its rank and the tier fetch a miss costs. Attribute names follow the OpenTelemetry GenAI
/// conventions where one exists (<c>gen_ai.*</c>).
/// </summary>
public static class ServingTracing
{
    public const string SourceName = "MoeRuntime.Serving";

    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>A stable pseudonym for identifiers that must not appear in telemetry (tenants, users).</summary>
    public static string Pseudonym(string value) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)).AsSpan(0, 8));
}
