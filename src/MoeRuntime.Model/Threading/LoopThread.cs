using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace MoeRuntime.Model.Threading;

/// <summary>
/// A thread of its own for one loop, optionally pinned to CPUs: it runs the work posted to it one item at a time, in order.
/// A loop that awaits <see cref="SwitchTo"/> at the top of each turn does its synchronous work here, whichever thread its
/// last await resumed on. Nothing else comes back by itself: the thread installs no synchronization context, so awaits
/// resume where they would on the thread pool, and code that blocks on a task from this thread cannot deadlock on it.
/// Pinned, the loop keeps its core's caches; with the rest of the process kept off that core (<c>taskset</c>), nothing of
/// the process is scheduled in its place either.
/// </summary>
public sealed class LoopThread : IDisposable
{
    readonly BlockingCollection<(SendOrPostCallback Callback, object? State)> _work = new();
    readonly Thread _thread;
    readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="name">The thread's name (also what <c>top -H</c> and <c>/proc/…/comm</c> show, first 15 characters).</param>
    /// <param name="cpus">CPUs to pin the thread to (<see cref="CpuList.PinCurrentThread"/>); null leaves it to the scheduler.</param>
    /// <exception cref="InvalidOperationException">The kernel refused the CPUs.</exception>
    /// <exception cref="PlatformNotSupportedException">CPUs given, not on Linux.</exception>
    public LoopThread(string name, IReadOnlyList<int>? cpus)
    {
        ArgumentNullException.ThrowIfNull(name);
        _thread = new Thread(() => Run(cpus)) { IsBackground = true, Name = name };
        _thread.Start();
        // Pinned before the constructor returns, or not at all: a refused CPU list is the caller's error, not a silent fallback.
        _started.Task.GetAwaiter().GetResult();
    }

    /// <summary>Whether the caller is running on this thread.</summary>
    public bool IsCurrent => Thread.CurrentThread == _thread;

    void Run(IReadOnlyList<int>? cpus)
    {
        try
        {
            if (cpus is not null) CpuList.PinCurrentThread(cpus);
        }
        catch (Exception e) when (e is InvalidOperationException or PlatformNotSupportedException)
        {
            _started.TrySetException(e);
            _work.CompleteAdding();
            return;
        }
        _started.TrySetResult();
        foreach ((SendOrPostCallback callback, object? state) in _work.GetConsumingEnumerable()) callback(state);
    }

    void Post(SendOrPostCallback callback, object? state)
    {
        try
        {
            if (!_work.IsAddingCompleted)
            {
                _work.Add((callback, state));
                return;
            }
        }
        catch (InvalidOperationException)
        {
            // Completed between the check and the add.
        }
        // The thread has stopped: the work runs on the thread pool rather than being lost (a loop finishing its shutdown).
        ThreadPool.UnsafeQueueUserWorkItem(static s => s.Callback(s.State), (Callback: callback, State: state), preferLocal: false);
    }

    /// <summary>Starts <paramref name="loop"/> on this thread; the task is the loop's.</summary>
    public Task Run(Func<Task> loop)
    {
        ArgumentNullException.ThrowIfNull(loop);
        // The loop's task, once the thread has started it; unwrapped, its failure or cancellation is the caller's task's.
        var started = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(static s =>
        {
            var (loop, started) = ((Func<Task>, TaskCompletionSource<Task>))s!;
            try
            {
                started.SetResult(loop());
            }
            catch (Exception e)
            {
                started.SetException(e);
            }
        }, (loop, started));
        return started.Task.Unwrap();
    }

    /// <summary>Continues the awaiting method on this thread (at once when it is already here).</summary>
    public SwitchAwaitable SwitchTo() => new(this);

    /// <summary>Lets the thread finish the work already posted and end; work posted later runs on the thread pool.</summary>
    public void Dispose() => _work.CompleteAdding();

    /// <summary>Awaiting it moves the method onto the loop thread.</summary>
    public readonly struct SwitchAwaitable(LoopThread thread) : ICriticalNotifyCompletion
    {
        public SwitchAwaitable GetAwaiter() => this;
        public bool IsCompleted => thread.IsCurrent;
        public void GetResult() { }
        public void OnCompleted(Action continuation) => thread.Post(static c => ((Action)c!)(), continuation);
        public void UnsafeOnCompleted(Action continuation) => thread.Post(static c => ((Action)c!)(), continuation);
    }
}
