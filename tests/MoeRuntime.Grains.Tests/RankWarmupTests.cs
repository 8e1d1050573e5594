using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Generation;

namespace MoeRuntime.Grains.Tests;

/// <summary>A rank that warms up with 5 requests (<c>Moe:WarmupRequests</c>) in waves of 2 when it starts.</summary>
public sealed class WarmupFixture() : ClusterFixture(1)
{
    protected override void Configure(MoeSiloOptions options)
    {
        options.Control.Enabled = false;
        options.WarmupRequests = 5;
        options.MaxBatchSequences = 2;
    }
}

public sealed class RankWarmupTests(WarmupFixture fixture) : IClassFixture<WarmupFixture>
{
    [Fact]
    public async Task ARankWarmsUpWhenItStartsThenIsReadyAndServesAsBefore()
    {
        RouterRuntime runtime = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<RouterRuntime>();
        await Eventually.UntilAsync(() => runtime.Readiness().Ready, "the rank finished its warm-up", TimeSpan.FromMinutes(2));

        Assert.Equal("serving", runtime.Readiness().Batcher);
        WarmupResult warmup = Assert.NotNull(runtime.Warmup);
        Assert.Equal(5, warmup.Requests);
        Assert.Equal(5 * BatcherWarmup.TokensPerRequest, warmup.Tokens);
        // The warm-up went through the router's own batcher and experts: the dispatcher counted their calls.
        Assert.True(runtime.Status().ExpertCalls > 0);

        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        GenerateResponse response = await router.GenerateAsync(new GenerateRequest
        {
            Prompt = "after the warm-up", Sampling = SamplingParameters.Greedy(4) with { StopTokenIds = [] },
        });
        Assert.Equal(4, response.TokenIds.Length);
    }
}
