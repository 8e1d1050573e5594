using MoeRuntime.Model.Threading;

namespace MoeRuntime.Model.Tests.Threading;

public class LoopThreadTests
{
    [Fact]
    public async Task EveryTurnStartsOnTheLoopThreadWhereverTheLastAwaitResumed()
    {
        using var loop = new LoopThread("test-loop", cpus: null);
        var turns = new List<(bool OnLoop, string? Name)>();
        var resumedElsewhere = 0;
        await loop.Run(async () =>
        {
            for (int turn = 0; turn < 5; turn++)
            {
                await loop.SwitchTo();
                turns.Add((loop.IsCurrent, Thread.CurrentThread.Name));
                // An await that resumes on the thread pool, as the model's ConfigureAwait(false) awaits do.
                await Task.Delay(5).ConfigureAwait(false);
                if (!loop.IsCurrent) resumedElsewhere++;
            }
        }).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(turns, t => Assert.Equal((true, "test-loop"), t));
        Assert.Equal(5, turns.Count);
        // The test means something only if the awaits really left the thread.
        Assert.Equal(5, resumedElsewhere);
    }

    [Fact]
    public async Task AwaitsWithoutConfigureAwaitDoNotComeBackByThemselvesSoBlockingOnThemCannotDeadlock()
    {
        using var loop = new LoopThread("test-loop", cpus: null);
        bool blockedAndReturned = false;
        await loop.Run(() =>
        {
            // Sync over async on the loop thread: with a context posting back to this (blocked) thread it would hang.
            blockedAndReturned = Continued().GetAwaiter().GetResult();
            return Task.CompletedTask;

            static async Task<bool> Continued()
            {
                await Task.Delay(5);
                return true;
            }
        }).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(blockedAndReturned);
    }

    [Fact]
    public async Task TheLoopsFailureIsTheTasks()
    {
        using var loop = new LoopThread("test-loop", cpus: null);
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => loop.Run(async () =>
        {
            await Task.Yield();
            throw new InvalidOperationException("the loop's own");
        }).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("the loop's own", thrown.Message);
        Assert.Equal("synchronous", (await Assert.ThrowsAsync<ArgumentException>(() =>
            loop.Run(() => throw new ArgumentException("synchronous")).WaitAsync(TimeSpan.FromSeconds(30)))).Message);
    }

    [Fact]
    public async Task APinnedLoopRunsOnItsCpusAndARefusedListFailsTheConstructor()
    {
        if (!OperatingSystem.IsLinux()) return;
        int[] mine = await Task.Run(CpuList.OfCurrentThread);
        int cpu = mine[^1];
        using (var loop = new LoopThread("test-loop", [cpu]))
        {
            int[] seen = [];
            await loop.Run(async () =>
            {
                await Task.Delay(5).ConfigureAwait(false);
                await loop.SwitchTo();
                seen = CpuList.OfCurrentThread();
            }).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal([cpu], seen);
        }
        Assert.Contains("1023", Assert.Throws<InvalidOperationException>(() => new LoopThread("test-loop", [CpuList.MaxCpu])).Message);
    }

    [Fact]
    public async Task WorkPostedAfterDisposeStillRuns()
    {
        var loop = new LoopThread("test-loop", cpus: null);
        loop.Dispose();
        bool ran = false;
        await loop.Run(() =>
        {
            ran = true;
            return Task.CompletedTask;
        }).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(ran);
    }
}
