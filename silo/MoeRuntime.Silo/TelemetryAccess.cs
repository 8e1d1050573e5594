using System.Security.Cryptography;
using System.Text;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Telemetry.Export;

namespace MoeRuntime.Silo;

/// <summary>
/// Who may read telemetry: a request must carry one of the configured tokens as
/// <c>Authorization: Bearer</c>, <c>X-Api-Key</c>, or (for the dashboard page in a browser) <c>?token=</c>.
/// Refusals answer 401 and count as access denials.
/// </summary>
sealed class TelemetryAccess
{
    readonly byte[][] _tokens;

    public TelemetryAccess(TelemetryHostOptions options, ILogger<TelemetryAccess> logger, int httpPort)
    {
        string[] tokens = options.Tokens.Where(t => !string.IsNullOrWhiteSpace(t)).ToArray();
        if (tokens.Length == 0)
        {
            string generated = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            tokens = [generated];
            logger.LogWarning("No Telemetry:Tokens configured; generated one for this run. Dashboard: http://127.0.0.1:{Port}/dashboard?token={Token}", httpPort, generated);
        }
        _tokens = tokens.Select(Encoding.UTF8.GetBytes).ToArray();
    }

    /// <summary>Endpoint filter for the telemetry routes; <paramref name="endpoint"/> labels the denial counter.</summary>
    public Func<EndpointFilterInvocationContext, EndpointFilterDelegate, ValueTask<object?>> Require(string endpoint) =>
        async (context, next) =>
        {
            if (Allowed(context.HttpContext.Request)) return await next(context);
            context.HttpContext.RequestServices.GetRequiredService<PrometheusExporter>().AccessDenied(endpoint);
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
            return Results.Unauthorized();
        };

    bool Allowed(HttpRequest request)
    {
        string? presented = request.Headers.Authorization.ToString() is { Length: > 7 } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? header[7..].Trim()
            : request.Headers["X-Api-Key"].FirstOrDefault() ?? request.Query["token"].FirstOrDefault();
        if (string.IsNullOrEmpty(presented)) return false;
        byte[] bytes = Encoding.UTF8.GetBytes(presented);
        return _tokens.Any(t => CryptographicOperations.FixedTimeEquals(t, bytes));
    }
}
