using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>Three ranks with rank calls whose routers split every step of two or more sequences into two micro-batches.</summary>
public sealed class OverlapFixture() : ClusterFixture(3)
{
    protected override void Configure(MoeSiloOptions options)
    {
        base.Configure(options);
        options.ExpertCallsPerRank = true;
        options.Overlap = new() { MicroBatches = 2, MinSequences = 2 };
    }

    /// <summary>Steps the ranks' routers ran as micro-batches.</summary>
    public long SplitSteps => Cluster.Silos.Select(s => ((InProcessSiloHandle)s).ServiceProvider)
        .Sum(sp => sp.GetRequiredService<RouterRuntime>().Host.DenseModel.SplitSteps);
}

/// <summary>With micro-batch overlap on three ranks, every request's tokens and logits stay the reference's.</summary>
public sealed class OverlapTests(OverlapFixture fixture) : IClassFixture<OverlapFixture>
{
    [Fact]
    public async Task ConcurrentRequestsSplitIntoMicroBatchesEqualTheReference()
    {
        string[] prompts = ["Overlap one", "A second prompt, longer than the first", "Three", "The fourth request of the batch"];
        var expected = prompts.Select(p => fixture.ReferenceRun(p, SamplingOptions.Greedy with { MaxTokens = 10, StopTokenIds = [] })).ToArray();
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        long before = fixture.SplitSteps;
        using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        GenerateResponse[] actual = await Task.WhenAll(prompts.Select(p => router.GenerateAsync(ServingAssertions.GreedyWithLogits(p, 10))))
            .WaitAsync(deadline.Token);
        for (int i = 0; i < prompts.Length; i++) ServingAssertions.MatchesReference(expected[i], actual[i]);
        Assert.True(fixture.SplitSteps > before, "no step was split into micro-batches");
    }
}
