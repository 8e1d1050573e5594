namespace MoeRuntime.Integration.Tests;

/// <summary>Runs the <c>moe</c> command line as its own process, the way an operator or client script would.</summary>
static class MoeCli
{
    public sealed record Outcome(int ExitCode, string Stdout, string StderrTail);

    static int Runs;

    public static async Task<Outcome> RunAsync(string logDirectory, TimeSpan limit, params string[] arguments)
    {
        using var process = ChildProcess.Start($"moe-{Interlocked.Increment(ref Runs)}", logDirectory, Binaries.Dotnet, [Binaries.Cli, .. arguments]);
        if (!await process.WaitForExitAsync(limit))
            Assert.Fail($"moe {string.Join(' ', arguments)} did not finish within {limit.TotalSeconds:F0} s\n{process.StderrTail()}");
        return new Outcome(process.ExitCode, process.Stdout(), process.StderrTail());
    }
}
