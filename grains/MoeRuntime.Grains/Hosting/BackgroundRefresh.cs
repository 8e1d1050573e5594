using System.Diagnostics;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// Keeps a silo-local copy of some cluster state fresh without making its readers wait: the reader that
/// finds a refresh due starts one in the background (never two at once, at most one per interval) and
/// goes on with the copy it has. A failed refresh leaves the copy as it was and is reported.
/// </summary>
public sealed class BackgroundRefresh(TimeSpan interval, Func<Task> refresh, Action<Exception> failed)
{
    readonly long _interval = (long)(interval.TotalSeconds * Stopwatch.Frequency);
    // Due at once: the first reader starts the first refresh.
    long _lastStart = Stopwatch.GetTimestamp() - (long)(interval.TotalSeconds * Stopwatch.Frequency);
    int _running;

    /// <summary>Starts a refresh when one is due and none is running; returns at once either way.</summary>
    public void IfDue()
    {
        long now = Stopwatch.GetTimestamp();
        if (now - Interlocked.Read(ref _lastStart) < _interval || Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
        Interlocked.Exchange(ref _lastStart, now);
        _ = RunAsync();
    }

    async Task RunAsync()
    {
        try
        {
            await refresh().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failed(e);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }
}
