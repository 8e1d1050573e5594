using System.Diagnostics;

namespace MoeRuntime.Integration.Tests;

/// <summary>Bounded polling: the tests wait for the cluster to reach a state, never for a fixed time.</summary>
static class Eventually
{
    static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails with <paramref name="diagnostics"/> after <paramref name="limit"/>.</summary>
    public static async Task UntilAsync(string what, TimeSpan limit, Func<Task<bool>> condition, Func<string> diagnostics)
    {
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        while (clock.Elapsed < limit)
        {
            try
            {
                if (await condition()) return;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                last = e;
            }
            await Task.Delay(Interval);
        }
        Assert.Fail($"timed out after {limit.TotalSeconds:F0} s waiting until {what}" +
            (last is null ? "" : $" (last error: {last.GetType().Name}: {last.Message})") + "\n" + diagnostics());
    }
}
