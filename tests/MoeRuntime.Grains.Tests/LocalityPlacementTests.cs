using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Three ranks with locality on (two experts per layer and router rank) and the balance threshold out of reach, so the
/// balancer's only changes are locality's. Hedging is off (a hedge would compute rows twice, see <see cref="ReplicaFixture"/>).
/// </summary>
public sealed class LocalityFixture() : ClusterFixture(3)
{
    public const int LocalExpertsPerLayer = 2;

    protected override void Configure(MoeSiloOptions options)
    {
        options.ExpertCallHedgeAfter = TimeSpan.Zero;
        options.ExpertCallTimeout = TimeSpan.FromSeconds(30);
        options.Balancing.Threshold = 100;
        options.Balancing.ExtraReplicaSlotsPerRank = 8;
        options.Balancing.MaxChanges = 40;
        options.Balancing.LocalExpertsPerLayer = LocalExpertsPerLayer;
        options.Balancing.MapRefreshInterval = TimeSpan.FromMilliseconds(200);
    }
}

public sealed class LocalityPlacementTests(LocalityFixture fixture, ITestOutputHelper output) : IClassFixture<LocalityFixture>
{
    // A character repeated sends every token to the same two experts per layer.
    static readonly string[] Prompts = [new string('5', 48), new string('c', 48)];
    const int MaxTokens = 8;
    const int RouterRank = 0;

    [Fact]
    public async Task AfterBalancingTheRoutersRankHoldsItsHotExpertsAndSendsFewerBytes()
    {
        IServiceProvider router = fixture.Cluster.Silos.Single(s => s.ServiceProvider.GetRequiredService<ModelHost>().Rank == RouterRank).ServiceProvider;
        (long bytesBefore, long callsBefore) = await DriveFromAsync(router);
        output.WriteLine($"before: {bytesBefore} bytes sent in {callsBefore} expert calls");
        Assert.True(bytesBefore > 0, "the router sent nothing to other ranks: nothing for locality to remove");

        long[] rows = await fixture.Client.GetGrain<IRouterDemandGrain>(GrainKeys.Rank(ClusterFixture.ModelName, RouterRank)).GetRowsAsync();
        foreach (int other in new[] { 1, 2 })
            Assert.All(await fixture.Client.GetGrain<IRouterDemandGrain>(GrainKeys.Rank(ClusterFixture.ModelName, other)).GetRowsAsync(), r => Assert.Equal(0, r));

        BalanceDecision decision = await fixture.Client.GetGrain<ILoadBalancerGrain>(ClusterFixture.ModelName).BalanceAsync(dryRun: false);
        foreach (string change in decision.Changes) output.WriteLine(change);
        output.WriteLine($"{decision.Reason}; remote rows {decision.RemoteRowsBefore} -> {decision.RemoteRowsAfter}");
        Assert.True(decision.Applied);
        Assert.Equal(LocalityFixture.LocalExpertsPerLayer, decision.Inputs.LocalExpertsPerLayer);
        Assert.Equal(rows.Sum(), decision.Inputs.RouterRows[RouterRank].Values.Sum());
        Assert.True(decision.RemoteRowsAfter < decision.RemoteRowsBefore, $"remote rows {decision.RemoteRowsBefore} -> {decision.RemoteRowsAfter}");
        Assert.All(decision.Changes, c => Assert.Contains("local to the router of rank 0", c));

        // The router's two most used experts of every layer are on its rank: owned there, or a replica.
        PlacementMapView map = await fixture.Client.GetGrain<IExpertPlacementGrain>(ClusterFixture.ModelName).GetAsync();
        int[] live = [0, 1, 2];
        for (int layer = 0; layer < 4; layer++)
            foreach (int expert in Enumerable.Range(0, 8).Where(e => rows[layer * 8 + e] > 0).OrderByDescending(e => rows[layer * 8 + e]).ThenBy(e => e).Take(LocalityFixture.LocalExpertsPerLayer))
            {
                int[] holders = map.Replicas.GetValueOrDefault(GrainKeys.Expert(ClusterFixture.ModelName, layer, expert),
                    [Serving.Placement.ExpertOwnership.OwnerOf(layer, expert, 8, live)]);
                Assert.Contains(RouterRank, holders);
            }

        foreach (var silo in fixture.Cluster.Silos) await silo.ServiceProvider.GetRequiredService<PlacementMapCache>().RefreshAsync();
        (long bytesAfter, long callsAfter) = await DriveFromAsync(router);
        output.WriteLine($"after:  {bytesAfter} bytes sent in {callsAfter} expert calls");
        Assert.True(bytesAfter < bytesBefore, $"bytes sent {bytesBefore} -> {bytesAfter}");
    }

    /// <summary>The prompts through the router of one rank, each answer checked against the reference; the bytes it sent meanwhile.</summary>
    async Task<(long Bytes, long Calls)> DriveFromAsync(IServiceProvider silo)
    {
        GrainExpertDispatcher dispatcher = silo.GetRequiredService<RouterRuntime>().Dispatcher;
        long bytes = dispatcher.BytesSent, calls = dispatcher.Calls;
        IGrainFactory grains = silo.GetRequiredService<IGrainFactory>();
        foreach (string prompt in Prompts)
        {
            GenerateResponse answer = await grains.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
            {
                Prompt = prompt,
                Sampling = SamplingParameters.Greedy(MaxTokens) with { StopTokenIds = [] },
                IncludeLogits = true,
            });
            ServingAssertions.MatchesReference(fixture.ReferenceRun(prompt, SamplingOptions.Greedy with { MaxTokens = MaxTokens, StopTokenIds = [] }), answer);
        }
        return (dispatcher.BytesSent - bytes, dispatcher.Calls - calls);
    }
}
