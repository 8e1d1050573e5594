namespace MoeRuntime.Silo;

/// <summary>
/// The built-in dashboard: a page, its stylesheet and its one script, all served from the silo (no external or inline
/// script or style) under a Content-Security-Policy that allows nothing else. The page polls the JSON views and writes
/// what they return as text only.
/// </summary>
static class Dashboard
{
    /// <summary>
    /// Scripts, styles and fetches from this silo only; no inline script or event handler, no plugins, no framing, no
    /// form posts, no base-URL change. The token travels in the page's URL, so no referrer leaves the page either.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    public static string Html { get; } = Load("dashboard.html");
    public static string Script { get; } = Load("dashboard.js");
    public static string Style { get; } = Load("dashboard.css");

    /// <summary>The headers every dashboard response carries.</summary>
    public static void Protect(HttpResponse response)
    {
        response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers["Referrer-Policy"] = "no-referrer";
        response.Headers.XFrameOptions = "DENY";
        response.Headers.CacheControl = "no-store";
    }

    static string Load(string name)
    {
        using Stream stream = typeof(Dashboard).Assembly.GetManifestResourceStream($"MoeRuntime.Silo.Dashboard.{name}")
            ?? throw new InvalidOperationException($"the dashboard's {name} is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
