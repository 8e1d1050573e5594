using System.Diagnostics;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>Debian's <c>promtool</c> (package <c>prometheus</c>), fed a metrics page on stdin.</summary>
static class Promtool
{
    const string Executable = "/usr/bin/promtool";

    /// <summary>The problems <c>promtool check metrics</c> reports, one per line (it prints them on stderr).</summary>
    public static async Task<string[]> CheckMetricsAsync(string metricsText)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install prometheus (tests/run does)");
        var start = new ProcessStartInfo(Executable) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("check");
        start.ArgumentList.Add("metrics");
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync(), stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(metricsText);
        process.StandardInput.Close();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            Assert.Fail("promtool check metrics did not finish within 30 s");
        }
        return ((await stdout) + (await stderr)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }
}
