using System.Diagnostics;
using Xunit;
using Xunit.Sdk;

namespace MoeRuntime.TestSupport;

/// <summary>
/// Bounded polling for state that settles asynchronously (a deactivation, a refresh, a background fetch, a cluster
/// reaching a state): tests wait for a condition, never for a fixed time, and every wait has a limit.
/// </summary>
public static class Eventually
{
    static readonly TimeSpan ClusterInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>The first answer of <paramref name="read"/> that satisfies <paramref name="done"/>, or the last one read after <paramref name="attempts"/> more.</summary>
    public static async Task<T> PollAsync<T>(Func<Task<T>> read, Func<T, bool> done, int attempts, TimeSpan delay)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(done);
        T value = await read();
        for (int i = 0; i < attempts && !done(value); i++)
        {
            await Task.Delay(delay);
            value = await read();
        }
        return value;
    }

    /// <summary>The first answer of <paramref name="read"/> that satisfies <paramref name="done"/>; fails after ten seconds.</summary>
    public static async Task<T> Async<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        T value = await PollAsync(read, done, 100, TimeSpan.FromMilliseconds(100));
        Assert.True(done(value), $"the condition did not hold within 10 s; last value: {value}");
        return value;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="diagnostics"/> after <paramref name="limit"/>.</summary>
    /// <remarks>Errors the condition throws count as "not yet" (the last is reported); assertion failures end the wait.</remarks>
    public static async Task UntilAsync(string what, TimeSpan limit, Func<Task<bool>> condition, Func<string> diagnostics)
    {
        ArgumentNullException.ThrowIfNull(condition);
        ArgumentNullException.ThrowIfNull(diagnostics);
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < limit)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is not XunitException)
            {
                last = e;
            }
            await Task.Delay(ClusterInterval);
        }
        Assert.Fail($"timed out after {limit.TotalSeconds:F0} s waiting until {what}" +
            (last is null ? "" : $" (last error: {last.GetType().Name}: {last.Message})") + "\n" + diagnostics());
    }

    /// <summary>
    /// Polls an in-process <paramref name="condition"/> (cheap to read, checked every few milliseconds) until it holds;
    /// <paramref name="limit"/> only guards against a hang.
    /// </summary>
    /// <exception cref="TimeoutException">The condition did not hold within the limit; the message names <paramref name="what"/>.</exception>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan limit)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit) throw new TimeoutException($"gave up waiting until {what}");
            await Task.Delay(2);
        }
    }
}
