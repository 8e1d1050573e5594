using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace MoeRuntime.Integration.Tests;

/// <summary>
/// A program the tests started, its stdout and stderr copied to files. Every child is killed with its
/// whole process tree on dispose, and also when the test host exits, so a failed or aborted run leaves no orphans.
/// </summary>
sealed class ChildProcess : IDisposable
{
    static readonly ConcurrentDictionary<ChildProcess, byte> Live = new();

    static ChildProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (ChildProcess child in Live.Keys) child.Kill();
    };

    readonly Process _process;
    readonly Task _copies;

    ChildProcess(string name, Process process, string logDirectory)
    {
        Name = name;
        _process = process;
        StdoutPath = Path.Combine(logDirectory, $"{name}.stdout.log");
        StderrPath = Path.Combine(logDirectory, $"{name}.stderr.log");
        _copies = Task.WhenAll(
            CopyAsync(process.StandardOutput.BaseStream, StdoutPath),
            CopyAsync(process.StandardError.BaseStream, StderrPath));
        Live[this] = 0;
    }

    public string Name { get; }
    public string StdoutPath { get; }
    public string StderrPath { get; }
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public static ChildProcess Start(string name, string logDirectory, string fileName, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = logDirectory,
        };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        return new ChildProcess(name, process, logDirectory);
    }

    /// <summary>Waits for the process to exit and its output to reach the files; false if it is still running after <paramref name="limit"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
            await _copies.WaitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public string Stdout() => ReadShared(StdoutPath);

    /// <summary>The last lines of stderr, for assertion messages.</summary>
    public string StderrTail(int lines = 30)
    {
        string[] all = ReadShared(StderrPath).Split('\n');
        return $"--- {Name} stderr (last {Math.Min(lines, all.Length)} lines) ---\n" + string.Join('\n', all.TakeLast(lines));
    }

    /// <summary>Asks the process to stop, as <c>systemctl stop</c> or Ctrl+C would (SIGTERM).</summary>
    public void Terminate()
    {
        if (SendSignal(_process.Id, SigTerm) != 0 && !_process.HasExited)
            throw new InvalidOperationException($"could not send SIGTERM to {Name} (errno {Marshal.GetLastPInvokeError()})");
    }

    const int SigTerm = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    static extern int SendSignal(int pid, int signal);

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }
    }

    public void Dispose()
    {
        Kill();
        _process.WaitForExit(10_000);
        _process.Dispose();
        Live.TryRemove(this, out _);
    }

    static async Task CopyAsync(Stream source, string path)
    {
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.ReadWrite, 4096, useAsync: true);
        byte[] buffer = new byte[8192];
        int read;
        while ((read = await source.ReadAsync(buffer)) > 0)
        {
            await file.WriteAsync(buffer.AsMemory(0, read));
            await file.FlushAsync();
        }
    }

    static string ReadShared(string path)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }
}
