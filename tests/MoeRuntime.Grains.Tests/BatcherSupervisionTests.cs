using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Generation;

namespace MoeRuntime.Grains.Tests;

/// <summary>A rank of its own, because its test crashes the batching loop on purpose.</summary>
public sealed class SupervisedBatcherFixture() : ClusterFixture(1)
{
    protected override void Configure(MoeSiloOptions options) => options.Control.Enabled = false;
}

public sealed class BatcherSupervisionTests(SupervisedBatcherFixture fixture) : IClassFixture<SupervisedBatcherFixture>
{
    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    static GenerateRequest Request(string prompt) => new() { Prompt = prompt, Sampling = SamplingParameters.Greedy(5) with { StopTokenIds = [] } };

    [Fact]
    public async Task ACrashedBatcherLoopFailsItsRequestAsInternalRestartsAndServesTheNextOnes()
    {
        RouterRuntime runtime = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<RouterRuntime>();
        Assert.True(runtime.Readiness().Ready);
        int faults = 1;
        runtime.Batcher.FaultHook = () => Interlocked.Decrement(ref faults) >= 0 ? new InvalidOperationException("injected batcher fault") : null;
        try
        {
            var error = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(Request("crash")));
            Assert.Equal(MoeErrorCode.Internal, error.Code);
            Assert.Contains("batching loop failed", error.Message);

            // The restart count moves only once the loop has been down and come back.
            await Eventually.UntilAsync(() => runtime.Readiness() is { Ready: true, BatcherRestarts: 1 }, "the batcher restarted", TimeSpan.FromMinutes(1));
            GenerateResponse after = await Router.GenerateAsync(Request("after"));
            Assert.Equal(5, after.TokenIds.Length);
            Assert.Equal(1, runtime.Readiness().BatcherRestarts);
        }
        finally
        {
            runtime.Batcher.FaultHook = null;
        }
    }

    [Theory]
    [InlineData(BatcherHealth.Serving, 503, "warming")]
    [InlineData(BatcherHealth.Restarting, 503, "restarting")]
    [InlineData(BatcherHealth.Draining, 503, "draining")]
    [InlineData(BatcherHealth.Stopped, 503, "stopped")]
    public void AWarmingRankIsNotReadyAndALoopThatIsNotServingSaysSoFirst(BatcherHealth health, int status, string batcher)
    {
        RankReadiness readiness = RankReadiness.Of(health, restarts: 0, warming: true);
        Assert.Equal(batcher, readiness.Batcher);
        Assert.Equal(status, readiness.StatusCode);
        Assert.False(readiness.Ready);
    }

    [Theory]
    [InlineData(BatcherHealth.Serving, 200, "serving")]
    [InlineData(BatcherHealth.Restarting, 503, "restarting")]
    [InlineData(BatcherHealth.Draining, 503, "draining")]
    [InlineData(BatcherHealth.Stopped, 503, "stopped")]
    public void HealthzIsReadyOnlyWhileTheBatcherServes(BatcherHealth health, int status, string batcher)
    {
        RankReadiness readiness = RankReadiness.Of(health, restarts: 2);
        Assert.Equal(batcher, readiness.Batcher);
        Assert.Equal(status, readiness.StatusCode);
        Assert.Equal(status == 200 ? "serving" : "unavailable", readiness.Status);
    }
}
