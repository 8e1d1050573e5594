using System.Diagnostics;

namespace MoeRuntime.Cli.Commands;

/// <summary>Reports steps of long work on stderr as they happen (Progress&lt;T&gt; would post them later, or never).</summary>
sealed class ConsoleProgress(string task) : IProgress<string>
{
    readonly Stopwatch _clock = Stopwatch.StartNew();

    public void Report(string step) => Console.Error.WriteLine($"[{_clock.Elapsed.TotalSeconds,5:F1}s] {task}: {step}");
}
