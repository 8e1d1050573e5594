using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace MoeRuntime.Wire.Benchmarks;

/// <summary>
/// A fixed delay shared by every stream of a relay: <see cref="Schedule"/> stamps an item with now + d and one dedicated
/// thread hands it to its target channel at that time. Because d is the same for every item and the stamp is taken under
/// the lock that appends, the queue is in due order, so the thread only ever sleeps until the head's due time
/// (nanosleep on Linux: sub-millisecond, no spinning, no thread-pool thread held) and items leave in the order they came.
/// </summary>
sealed class DelayLine<T> : IDisposable
{
    readonly long _delay;
    readonly Queue<(long Due, ChannelWriter<T> Target, T Item)> _queue = new();
    readonly object _gate = new();  // Monitor.Wait/Pulse: the thread sleeps while the queue is empty
    readonly Thread _thread;
    bool _stopped;

    /// <param name="delay">The delay in <see cref="Stopwatch"/> ticks; must be positive (a zero delay needs no line).</param>
    public DelayLine(long delay)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(delay);
        _delay = delay;
        _thread = new Thread(Run) { IsBackground = true, Name = "moe-wire delay line" };
        _thread.Start();
    }

    /// <summary>Items scheduled and not yet handed over.</summary>
    public int Pending { get { lock (_gate) return _queue.Count; } }

    /// <summary>Hands <paramref name="item"/> to <paramref name="target"/> d after now, after every item scheduled before it.</summary>
    public void Schedule(ChannelWriter<T> target, T item)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            _queue.Enqueue((Stopwatch.GetTimestamp() + _delay, target, item));
            if (_queue.Count == 1) Monitor.Pulse(_gate);
        }
    }

    void Run()
    {
        LinuxSleep.TightenTimerSlack();
        var due = new List<(long Due, ChannelWriter<T> Target, T Item)>();
        while (true)
        {
            long head;
            lock (_gate)
            {
                while (_queue.Count == 0 && !_stopped) Monitor.Wait(_gate);
                if (_stopped) return;
                head = _queue.Peek().Due;
            }
            LinuxSleep.Until(head);
            long now = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                while (_queue.Count > 0 && _queue.Peek().Due <= now) due.Add(_queue.Dequeue());
            }
            foreach (var (_, target, item) in due) target.TryWrite(item);
            due.Clear();
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stopped = true;
            Monitor.PulseAll(_gate);
        }
        _thread.Join();
    }
}

/// <summary>Sleeps to a <see cref="Stopwatch"/> timestamp with sub-millisecond precision on Linux.</summary>
static class LinuxSleep
{
    [StructLayout(LayoutKind.Sequential)]
    struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "nanosleep")]
    static extern int NanoSleep(ref Timespec request, IntPtr remaining);

    [DllImport("libc", EntryPoint = "prctl")]
    static extern int Prctl(int option, ulong argument, ulong a3, ulong a4, ulong a5);

    const int PrSetTimerSlack = 29;

    /// <summary>Asks the kernel to wake this thread within 1 µs of its deadline (the default slack is 50 µs).</summary>
    public static void TightenTimerSlack()
    {
        if (OperatingSystem.IsLinux()) _ = Prctl(PrSetTimerSlack, 1000, 0, 0, 0);
    }

    public static void Until(long due)
    {
        while (true)
        {
            long remaining = due - Stopwatch.GetTimestamp();
            if (remaining <= 0) return;
            if (!OperatingSystem.IsLinux())
            {
                Thread.Sleep(TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
                continue;
            }
            long nanoseconds = (long)((double)remaining * 1e9 / Stopwatch.Frequency);
            var request = new Timespec { Seconds = nanoseconds / 1_000_000_000, Nanoseconds = nanoseconds % 1_000_000_000 };
            _ = NanoSleep(ref request, IntPtr.Zero);  // an early wake (EINTR) loops
        }
    }
}
