namespace MoeRuntime.Grains.Tests;

/// <summary>Polls a read until its answer satisfies a condition, for state that settles asynchronously (a deactivation, a refresh, a summary).</summary>
static class Eventually
{
    /// <summary>The first answer of <paramref name="read"/> that satisfies <paramref name="done"/>, or the last one read after <paramref name="attempts"/> more.</summary>
    public static async Task<T> PollAsync<T>(Func<Task<T>> read, Func<T, bool> done, int attempts, TimeSpan delay)
    {
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
}
