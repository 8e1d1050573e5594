using System.Security.Cryptography;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Telemetry.Export;
using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Silo;

/// <summary>
/// Who may use the HTTP endpoints of a rank besides the front door: a request carries a token as
/// <c>Authorization: Bearer</c> or <c>X-Api-Key</c> (the dashboard page alone also takes <c>?token=</c>, which a
/// browser's address bar needs). A viewer token reads, an operator token also writes. No or an unknown token answers
/// 401; a viewer token on an operator endpoint answers 403. Both count as access denials by endpoint.
/// </summary>
sealed partial class TelemetryAccess
{
    readonly AccessTokens _tokens;

    public TelemetryAccess(TelemetryHostOptions options, ILogger<TelemetryAccess> logger, int httpPort)
    {
        string[] viewers = options.Tokens, operators = options.OperatorTokens;
        if (viewers.Length == 0 && operators.Length == 0)
        {
            string generated = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            string file = string.IsNullOrWhiteSpace(options.TokenFile) ? Path.Combine(Path.GetTempPath(), $"moe-silo-{httpPort}.token") : options.TokenFile;
            WriteOwnerOnly(file, generated);
            viewers = [generated];
            GeneratedToken(logger, AccessTokens.Fingerprint(generated), file, httpPort);
        }
        _tokens = new AccessTokens(viewers, operators);
        Configured(logger, _tokens.Count(AccessRole.Viewer), _tokens.Count(AccessRole.Operator),
            string.Join(", ", viewers.Concat(operators).Select(AccessTokens.Fingerprint)));
    }

    /// <summary>
    /// Endpoint filter requiring <paramref name="role"/>; <paramref name="endpoint"/> labels the denial counter
    /// (<c>metrics</c>, <c>views</c>, <c>dashboard</c>), and only the <c>dashboard</c> endpoint reads <c>?token=</c>.
    /// </summary>
    public Func<EndpointFilterInvocationContext, EndpointFilterDelegate, ValueTask<object?>> Require(string endpoint, AccessRole role = AccessRole.Viewer) =>
        async (context, next) =>
        {
            HttpContext http = context.HttpContext;
            AccessRole? held = _tokens.RoleOf(Presented(http.Request, queryAllowed: endpoint == "dashboard"));
            if (held is { } h && AccessTokens.Grants(h, role)) return await next(context);
            http.RequestServices.GetRequiredService<PrometheusExporter>().AccessDenied(endpoint);
            if (held is null)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                return Results.Unauthorized();
            }
            return Results.Json(new { error = $"this endpoint needs an {AccessTokens.Name(role)} token; the token given is a {AccessTokens.Name(held.Value)} token" },
                statusCode: StatusCodes.Status403Forbidden);
        };

    static ReadOnlySpan<char> Presented(HttpRequest request, bool queryAllowed)
    {
        if (request.Headers.Authorization.ToString() is { Length: > 7 } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return header.AsSpan(7).Trim();
        if (request.Headers["X-Api-Key"].FirstOrDefault() is { Length: > 0 } key) return key;
        return queryAllowed ? request.Query["token"].FirstOrDefault() : null;
    }

    /// <summary>Writes the token readable by this user only (mode 0600 where the system has modes).</summary>
    static void WriteOwnerOnly(string file, string token)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(file)) is { } directory) Directory.CreateDirectory(directory);
        File.Delete(file);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        using var writer = new StreamWriter(file, options);
        writer.Write(token);
        writer.Write('\n');
    }

    [LoggerMessage(EventId = 1702, Level = LogLevel.Warning,
        Message = "No Telemetry:Tokens configured; generated a viewer token for this run (fingerprint {Fingerprint}) in {File} (mode 0600). Dashboard: http://127.0.0.1:{Port}/dashboard?token=<the token in that file>")]
    static partial void GeneratedToken(ILogger logger, string fingerprint, string file, int port);

    [LoggerMessage(EventId = 1703, Level = LogLevel.Information,
        Message = "HTTP access: {Viewers} viewer and {Operators} operator tokens (fingerprints {Fingerprints})")]
    static partial void Configured(ILogger logger, int viewers, int operators, string fingerprints);
}
