namespace MoeRuntime.Silo;

/// <summary>The built-in dashboard: one self-contained page (no external scripts) that polls the JSON views.</summary>
static class Dashboard
{
    public static string Html { get; } = Load();

    static string Load()
    {
        using Stream stream = typeof(Dashboard).Assembly.GetManifestResourceStream("MoeRuntime.Silo.Dashboard.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
