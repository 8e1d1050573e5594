using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>Applies its rank's <see cref="RankFault"/> to the rank calls (<see cref="IRankExpertsGrain"/>) it hosts.</summary>
public sealed class RankCallFaultFilter(RankFault fault) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Grain is RankExpertsGrain && context.InterfaceMethod.Name == nameof(IRankExpertsGrain.ComputeAsync))
            await fault.ApplyAsync();
        await context.Invoke();
    }
}

/// <summary>Three ranks sending each other one call per rank per layer (<c>Moe:ExpertCallsPerRank</c>).</summary>
public sealed class RankCallFixture() : FaultyRanksFixture<RankCallFaultFilter>
{
    protected override void Configure(MoeSiloOptions options)
    {
        base.Configure(options);
        options.ExpertCallsPerRank = true;
    }

    public int RankCalls => Ranks.Sum(sp => sp.GetRequiredService<RankFault>().Calls);
}

/// <summary>
/// With one call per destination rank per layer, outputs stay the reference's; a rank whose calls fail has its experts' rows
/// re-routed expert by expert, and one that stops answering is hedged to the calling rank's executor.
/// </summary>
public sealed class RankCallTests(RankCallFixture fixture) : IClassFixture<RankCallFixture>
{
    const string Prompt = "One call per rank";

    static GenerateRequest Greedy(int maxTokens) => ServingAssertions.GreedyWithLogits(Prompt, maxTokens);

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    [Fact]
    public async Task OutputsEqualTheReferenceWithOneCallPerRank()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 12, StopTokenIds = [] });
        int before = fixture.RankCalls;
        ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(12)));
        Assert.True(fixture.RankCalls > before, "no rank call was made");
    }

    [Fact]
    public async Task AFailedRanksRowsAreReRoutedAndOutputsStayTheReference()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 6, StopTokenIds = [] });
        RankFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
        long retriesBefore = fixture.Retries;
        fault.Fail = true;
        try
        {
            ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)));
        }
        finally
        {
            fault.Fail = false;
        }
        Assert.True(fault.Failed > 0, "no rank call reached the failed rank");
        Assert.True(fixture.Retries > retriesBefore, "no expert was re-routed");
    }

    [Fact]
    public async Task AStalledRanksCallIsHedgedToThisRankAndOutputsStayTheReference()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 6, StopTokenIds = [] });
        // Warm-up: the hedge delay learned from healthy calls.
        ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)));
        long hedgesBefore = fixture.Hedges;
        RankFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
        fault.Stall = true;
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)).WaitAsync(deadline.Token));
        }
        finally
        {
            fault.Stall = false;
            await fault.Release.CancelAsync();
        }
        Assert.True(fault.Stalled > 0, "no rank call reached the stalled rank");
        Assert.True(fixture.Hedges > hedgesBefore, "no rank call was hedged");
    }
}
