namespace MoeRuntime.Grains.Tests;

/// <summary>Polls a read until its answer satisfies a condition, for state that settles asynchronously (a deactivation, a refresh).</summary>
static class Eventually
{
    /// <summary>The first answer of <paramref name="read"/> that satisfies <paramref name="done"/>; fails after ten seconds.</summary>
    public static async Task<T> Async<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        T value = await read();
        for (int i = 0; i < 100 && !done(value); i++)
        {
            await Task.Delay(100);
            value = await read();
        }
        Assert.True(done(value), $"the condition did not hold within 10 s; last value: {value}");
        return value;
    }
}
