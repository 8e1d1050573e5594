namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// Debian's <c>chromium</c> in headless mode, one process per page: run the page's scripts for a
/// budget of virtual time (fetches pause the clock, so polled data has arrived), then dump the DOM or
/// take a screenshot. A fresh profile in the test's folder; nothing reaches beyond loopback.
/// </summary>
sealed class HeadlessChromium(string directory)
{
    const string Executable = "/usr/bin/chromium";
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    int _runs;

    /// <summary>The page's DOM after <paramref name="virtualMilliseconds"/> of virtual time.</summary>
    public async Task<string> DumpDomAsync(string url, int virtualMilliseconds = 5000)
    {
        using ChildProcess chromium = await RunAsync(url, $"--virtual-time-budget={virtualMilliseconds}", "--dump-dom");
        return chromium.Stdout();
    }

    /// <summary>A PNG of the page after <paramref name="virtualMilliseconds"/> of virtual time, written to <paramref name="file"/>.</summary>
    public async Task ScreenshotAsync(string url, string file, int virtualMilliseconds = 5000)
    {
        using ChildProcess _ = await RunAsync(url, $"--virtual-time-budget={virtualMilliseconds}", $"--screenshot={file}", "--window-size=1280,900");
    }

    async Task<ChildProcess> RunAsync(string url, params string[] action)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install chromium (tests/run does)");
        int run = Interlocked.Increment(ref _runs);
        string profile = Directory.CreateDirectory(Path.Combine(directory, $"profile-{run}")).FullName;
        var chromium = ChildProcess.Start($"chromium-{run}", directory, Executable,
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", $"--user-data-dir={profile}", .. action, url,
        ]);
        if (!await chromium.WaitForExitAsync(Limit))
        {
            chromium.Dispose();
            Assert.Fail($"chromium did not finish {url} within {Limit.TotalSeconds:F0} s\n{chromium.StderrTail()}");
        }
        return chromium;
    }
}
