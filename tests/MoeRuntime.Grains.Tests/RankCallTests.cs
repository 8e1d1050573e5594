using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>What one rank does to the rank calls (<see cref="IRankExpertsGrain"/>) it hosts, set by a test.</summary>
public sealed class RankCallFault
{
    /// <summary>Fails calls as a rank whose connection is gone does.</summary>
    public volatile bool Fail;
    /// <summary>Leaves calls unanswered (until <see cref="Release"/> or 20 s), as a rank that died mid-call does.</summary>
    public volatile bool Stall;
    public CancellationTokenSource Release { get; } = new();
    public int Calls, Failed, Stalled;
}

sealed class RankCallFaultFilter(RankCallFault fault) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Grain is RankExpertsGrain && context.InterfaceMethod.Name == nameof(IRankExpertsGrain.ComputeAsync))
        {
            Interlocked.Increment(ref fault.Calls);
            if (fault.Fail)
            {
                Interlocked.Increment(ref fault.Failed);
                throw new SiloUnavailableException("the rank is gone (test)");
            }
            if (fault.Stall)
            {
                Interlocked.Increment(ref fault.Stalled);
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(20), fault.Release.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
        await context.Invoke();
    }
}

/// <summary>Three ranks sending each other one call per rank per layer (<c>Moe:ExpertCallsPerRank</c>).</summary>
public sealed class RankCallFixture() : ClusterFixture(3)
{
    protected override void Configure(MoeSiloOptions options)
    {
        options.ExpertCallsPerRank = true;
        // Long enough that only a hedge or a fall-back, not the deadline, can explain a fast answer.
        options.ExpertCallTimeout = TimeSpan.FromSeconds(15);
        options.Control.Enabled = false;
    }

    protected override void ConfigureSilo(ISiloBuilder siloBuilder) =>
        siloBuilder.ConfigureServices(s => s.AddSingleton<RankCallFault>()).AddIncomingGrainCallFilter<RankCallFaultFilter>();

    public IEnumerable<IServiceProvider> Ranks => Cluster.Silos.Select(s => ((InProcessSiloHandle)s).ServiceProvider);

    public int RankCalls => Ranks.Sum(sp => sp.GetRequiredService<RankCallFault>().Calls);
    public long Retries => Ranks.Sum(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Retries);
    public long Hedges => Ranks.Sum(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Hedges);

    /// <summary>The fault switch of a rank that does not host the router: one the router reaches over the network.</summary>
    public async Task<RankCallFault> FaultOfARankWithoutTheRouterAsync()
    {
        if (Ranks.All(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Calls == 0))
            await Client.GetGrain<IRouterGrain>(ModelName).GenerateAsync(new GenerateRequest { Prompt = "which rank routes", Sampling = SamplingParameters.Greedy(2) });
        return Ranks.First(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Calls == 0).GetRequiredService<RankCallFault>();
    }
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
        RankCallFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
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
        RankCallFault fault = await fixture.FaultOfARankWithoutTheRouterAsync();
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
