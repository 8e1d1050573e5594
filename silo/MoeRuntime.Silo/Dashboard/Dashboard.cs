using System.Collections.Frozen;

namespace MoeRuntime.Silo;

/// <summary>
/// The built-in dashboard: a page, its stylesheets and scripts, all served from the silo (no external or inline script
/// or style) under a Content-Security-Policy that allows nothing else. The page polls the JSON views and writes what
/// they return as text only; its charts are drawn by uPlot, installed from npm at build time (package-lock.json pins
/// its version and integrity) and embedded in the assembly like the page's own files.
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

    /// <summary>
    /// The files the page loads from <c>/dashboard/{name}</c>, with their content types. They hold no data, so a browser
    /// loads them without the token (which stays in the page's URL).
    /// </summary>
    public static FrozenDictionary<string, DashboardAsset> Assets { get; } = new Dictionary<string, DashboardAsset>(StringComparer.Ordinal)
    {
        ["dashboard.js"] = new(Load("dashboard.js"), "text/javascript; charset=utf-8"),
        ["dashboard-colors.js"] = new(Load("dashboard-colors.js"), "text/javascript; charset=utf-8"),
        ["dashboard.css"] = new(Load("dashboard.css"), "text/css; charset=utf-8"),
        ["uPlot.iife.min.js"] = new(Load("uPlot.iife.min.js"), "text/javascript; charset=utf-8"),
        ["uPlot.min.css"] = new(Load("uPlot.min.css"), "text/css; charset=utf-8"),
        ["uPlot.LICENSE.txt"] = new(Load("uPlot.LICENSE"), "text/plain; charset=utf-8"),
    }.ToFrozenDictionary(StringComparer.Ordinal);

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

/// <summary>One static file of the dashboard: its text and the Content-Type it is served with.</summary>
sealed record DashboardAsset(string Text, string ContentType);
