using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>Applies its rank's <see cref="RankFault"/> to expert default grains only (not to pinned copies).</summary>
public sealed class RankFaultFilter(RankFault fault) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Grain is ExpertGrain && context.InterfaceMethod.Name == nameof(IExpertGrain.ComputeAsync)
            && GrainKeys.ParseExpert(context.TargetId.Key.ToString()!).Rank is null)
            await fault.ApplyAsync();
        await context.Invoke();
    }
}

/// <summary>Three ranks, each of which can be made to stall or fail its experts' default grains.</summary>
public sealed class StalledRankFixture() : FaultyRanksFixture<RankFaultFilter>;

/// <summary>
/// An expert call to a rank that stopped answering is hedged to a copy on the calling rank; one whose rank fails is sent
/// to that copy and later calls go there first. Outputs stay the reference's, and nothing waits for the call deadline.
/// </summary>
public sealed class ExpertHedgeTests(StalledRankFixture fixture) : IClassFixture<StalledRankFixture>
{
    const string Prompt = "A rank stops answering";

    static GenerateRequest Greedy(int maxTokens) => ServingAssertions.GreedyWithLogits(Prompt, maxTokens);

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    [Fact]
    public async Task CallsToAStalledRankAreAnsweredByTheLocalCopyAndOutputsStayTheReferences()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 6, StopTokenIds = [] });
        // Warm-up: every default grain active, the hedge delay learned from healthy calls.
        ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)));
        long hedgesBefore = fixture.Hedges;

        RankFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
        fault.Stall = true;
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            GenerateResponse served = await Router.GenerateAsync(Greedy(6)).WaitAsync(deadline.Token);
            ServingAssertions.MatchesReference(expected, served);
        }
        finally
        {
            fault.Stall = false;
            await fault.Release.CancelAsync();
        }
        Assert.True(fault.Stalled > 0, "no call reached the stalled rank's experts");
        Assert.True(fixture.Hedges > hedgesBefore, "no call was hedged");
    }

    [Fact]
    public async Task CallsToAFailedRankGoToTheLocalCopyAndOutputsStayTheReferences()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 6, StopTokenIds = [] });
        RankFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
        long retriesBefore = fixture.Retries;
        fault.Fail = true;
        int failed;
        try
        {
            ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)));
            failed = fault.Failed;
            // Later steps go to the local copy first: another request barely touches the failed rank.
            ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)));
        }
        finally
        {
            fault.Fail = false;
        }
        Assert.True(failed > 0, "no call reached the failed rank's experts");
        Assert.True(fixture.Retries > retriesBefore);
        // Without the detour every call of every step to the rank's experts would fail first; with it, only the first of each expert.
        Assert.True(fault.Failed - failed < failed, $"{fault.Failed - failed} failures in the second request after {failed} in the first");
    }

    [Fact]
    public async Task AQuarantinedCopyIsPassedOverForAnotherCopyAndOutputsStayTheReferences()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 6, StopTokenIds = [] });
        RankFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
        fault.Quarantined = true;
        try
        {
            ServingAssertions.MatchesReference(expected, await Router.GenerateAsync(Greedy(6)));
        }
        finally
        {
            fault.Quarantined = false;
        }
        Assert.True(fault.Refused > 0, "no call reached the quarantined copies");
    }
}
