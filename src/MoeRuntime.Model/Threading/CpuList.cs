using System.Globalization;
using System.Runtime.InteropServices;

namespace MoeRuntime.Model.Threading;

/// <summary>
/// A set of CPUs written the way <c>taskset -c</c> and the kernel's cpuset files write them: ids and inclusive ranges,
/// comma-separated (<c>"0"</c>, <c>"2-3"</c>, <c>"0,4-7"</c>); and pinning the calling thread to such a set.
/// </summary>
public static partial class CpuList
{
    /// <summary>The highest CPU id accepted: the kernel's default <c>cpu_set_t</c> holds 1024.</summary>
    public const int MaxCpu = 1023;

    /// <summary>Parses a CPU list into its ids, ascending and distinct.</summary>
    /// <exception cref="FormatException">The text is empty, has a part that is not an id or a range, a range backwards, or an id above <see cref="MaxCpu"/>.</exception>
    public static int[] Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("a CPU list names at least one CPU (e.g. \"0\", \"2-3\", \"0,4-7\")");
        var cpus = new SortedSet<int>();
        foreach (string part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            int first = Id(dash < 0 ? part : part[..dash], text);
            int last = dash < 0 ? first : Id(part[(dash + 1)..], text);
            if (last < first) throw new FormatException($"CPU range '{part}' in '{text}' runs backwards");
            for (int cpu = first; cpu <= last; cpu++) cpus.Add(cpu);
        }
        return [.. cpus];
    }

    static int Id(string part, string text) =>
        int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int id) && id <= MaxCpu
            ? id
            : throw new FormatException($"'{part}' in CPU list '{text}' is not a CPU id from 0 to {MaxCpu}");

    /// <summary>Writes ids back as a list with ranges (<c>0,2-3</c>), for logs.</summary>
    public static string Format(IReadOnlyList<int> cpus)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        var parts = new List<string>();
        for (int i = 0; i < cpus.Count;)
        {
            int j = i;
            while (j + 1 < cpus.Count && cpus[j + 1] == cpus[j] + 1) j++;
            parts.Add(j == i ? cpus[i].ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{cpus[i]}-{cpus[j]}"));
            i = j + 1;
        }
        return string.Join(',', parts);
    }

    /// <summary>
    /// Restricts the calling thread (only it: .NET threads it starts later run where the process's others do) to <paramref name="cpus"/>, Linux's
    /// <c>sched_setaffinity</c>. The set may reach outside the process's own (a <c>taskset</c> of the process), not outside
    /// its cgroup's CPUs.
    /// </summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    /// <exception cref="InvalidOperationException">The kernel refused the set (none of its CPUs online or allowed here).</exception>
    public static void PinCurrentThread(IReadOnlyList<int> cpus)
    {
        ArgumentNullException.ThrowIfNull(cpus);
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("pinning a thread to CPUs is implemented for Linux only");
        Span<ulong> mask = stackalloc ulong[(MaxCpu + 1) / 64];
        mask.Clear();
        foreach (int cpu in cpus)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(cpu, nameof(cpus));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(cpu, MaxCpu, nameof(cpus));
            mask[cpu / 64] |= 1UL << (cpu % 64);
        }
        if (SchedSetAffinity(0, (nuint)(mask.Length * sizeof(ulong)), ref MemoryMarshal.GetReference(mask)) != 0)
            throw new InvalidOperationException(
                $"the kernel refused to pin a thread to CPUs {Format(cpus)} (errno {Marshal.GetLastPInvokeError()}): are they online and in this process's cgroup?");
    }

    /// <summary>
    /// Pins the calling thread to <paramref name="cpus"/> until the result is disposed, on the same thread, which puts back
    /// the CPUs it had. Null pins nothing (and returns null).
    /// </summary>
    public static IDisposable? PinnedWhile(IReadOnlyList<int>? cpus)
    {
        if (cpus is null) return null;
        int[] before = OfCurrentThread();
        PinCurrentThread(cpus);
        return new Restore(before);
    }

    sealed class Restore(int[] cpus) : IDisposable
    {
        public void Dispose() => PinCurrentThread(cpus);
    }

    /// <summary>The CPUs the calling thread may run on now (Linux's <c>sched_getaffinity</c>).</summary>
    /// <exception cref="PlatformNotSupportedException">Not on Linux.</exception>
    public static int[] OfCurrentThread()
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("reading a thread's CPUs is implemented for Linux only");
        Span<ulong> mask = stackalloc ulong[(MaxCpu + 1) / 64];
        mask.Clear();
        if (SchedGetAffinity(0, (nuint)(mask.Length * sizeof(ulong)), ref MemoryMarshal.GetReference(mask)) < 0)
            throw new InvalidOperationException($"sched_getaffinity failed (errno {Marshal.GetLastPInvokeError()})");
        var cpus = new List<int>();
        for (int cpu = 0; cpu <= MaxCpu; cpu++)
            if ((mask[cpu / 64] & (1UL << (cpu % 64))) != 0) cpus.Add(cpu);
        return [.. cpus];
    }

    [LibraryImport("libc", EntryPoint = "sched_setaffinity", SetLastError = true)]
    private static partial int SchedSetAffinity(int pid, nuint size, ref ulong mask);

    [LibraryImport("libc", EntryPoint = "sched_getaffinity", SetLastError = true)]
    private static partial int SchedGetAffinity(int pid, nuint size, ref ulong mask);
}
