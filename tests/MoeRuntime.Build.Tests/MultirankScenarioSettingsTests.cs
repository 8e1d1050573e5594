using System.Diagnostics;

namespace MoeRuntime.Build.Tests;

/// <summary>
/// loadtests/multirank-scenario checks its environment before it builds or starts anything: a bad value exits 2 with a
/// message naming the variable and the value. MOE_CHECK_ONLY=1 stops it after the checks, so a value the checks let
/// through shows as "settings valid" and exit 0 instead of a long benchmark.
/// </summary>
public class MultirankScenarioSettingsTests
{
    [Theory]
    [InlineData("MOE_LOCAL_EXPERTS", "2,x", "MOE_LOCAL_EXPERTS must be whole numbers")]
    [InlineData("MOE_LOCAL_EXPERTS", "-1", "MOE_LOCAL_EXPERTS must be whole numbers")]
    [InlineData("MOE_LOCAL_EXPERTS", "2 2", "MOE_LOCAL_EXPERTS lists 2 twice")]
    [InlineData("MOE_LOCAL_EXPERTS", ",", "MOE_LOCAL_EXPERTS must list at least one")]
    [InlineData("MOE_RUNS", "0", "MOE_RUNS must be at least 1 (got 0)")]
    [InlineData("MOE_RUNS", "three", "MOE_RUNS must be a whole number (got 'three')")]
    [InlineData("MOE_RANKS", "1", "MOE_RANKS must be at least 2 (got 1)")]
    [InlineData("MOE_RANKS", "12", "MOE_RANKS must be at most 9")]
    [InlineData("MOE_REQUESTS", "0", "MOE_REQUESTS must be at least 1 (got 0)")]
    [InlineData("MOE_WARMUP_REQUESTS", "x", "MOE_WARMUP_REQUESTS must be a whole number (got 'x')")]
    [InlineData("MOE_CONCURRENCY", "8;32", "MOE_CONCURRENCY must be a number of streams")]
    [InlineData("MOE_SPREAD", "all", "MOE_SPREAD must be routers or one (got 'all')")]
    [InlineData("MOE_RANK_THREADS", "half", "MOE_RANK_THREADS / MOE_BASELINE_THREADS must be a number of threads")]
    public void A_bad_value_fails_before_anything_starts_naming_it(string variable, string value, string expected)
    {
        var (exit, error) = Run(new() { [variable] = value });
        Assert.Equal(2, exit);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Locality_needs_a_warm_up_to_place_from()
    {
        var (exit, error) = Run(new() { ["MOE_LOCAL_EXPERTS"] = "0 2", ["MOE_WARMUP_REQUESTS"] = "0" });
        Assert.Equal(2, exit);
        Assert.Contains("MOE_WARMUP_REQUESTS must be at least 1 when MOE_LOCAL_EXPERTS has a value above 0", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("0 2 4 8")]
    [InlineData("0,2,4,8")]
    public void Good_settings_pass_the_checks(string locals)
    {
        var (exit, error) = Run(new() { ["MOE_LOCAL_EXPERTS"] = locals, ["MOE_RUNS"] = "3", ["MOE_WARMUP_REQUESTS"] = "1" });
        Assert.True(exit == 0, error);
        Assert.Contains("settings valid", error, StringComparison.Ordinal);
    }

    static (int Exit, string Error) Run(Dictionary<string, string> environment)
    {
        string script = Path.Combine(FindRepositoryRoot(), "loadtests", "multirank-scenario");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string name in new[] { "MOE_RANKS", "MOE_CONCURRENCY", "MOE_REQUESTS", "MOE_RUNS", "MOE_PORT_BASE", "MOE_WARMUP_REQUESTS", "MOE_LOCAL_EXPERTS", "MOE_RANK_THREADS", "MOE_BASELINE_THREADS", "MOE_SPREAD" })
            start.Environment.Remove(name);
        foreach (var (name, value) in environment) start.Environment[name] = value;
        start.Environment["MOE_CHECK_ONLY"] = "1";
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "the script did not finish its checks within 30 s");
        return (process.ExitCode, error.Result + output.Result);
    }

    static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "MoeRuntime.sln"))) return directory.FullName;
        throw new InvalidOperationException($"no MoeRuntime.sln above {AppContext.BaseDirectory}");
    }
}
