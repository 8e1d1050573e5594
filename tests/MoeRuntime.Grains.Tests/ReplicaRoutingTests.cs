using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Grains.Tests;

/// <summary>A placement map written by hand: the router spreads replicated experts' tokens and outputs stay the reference's.</summary>
public sealed class ReplicaRoutingTests(ThreeRankFixture fixture) : IClassFixture<ThreeRankFixture>
{
    const string Model = ClusterFixture.ModelName;
    static readonly string[] Prompts = ["Replicas share the work of one expert, token by token", "a", "The cluster"];

    IExpertPlacementGrain Map => fixture.Client.GetGrain<IExpertPlacementGrain>(Model);

    [Fact]
    public async Task ReplicatedAndMovedExpertsSpreadTheirTokensAndChangeNoOutput()
    {
        // Layer 0 on every rank; expert 2/3 (owned by rank 1) moved to rank 2.
        var replicas = Enumerable.Range(0, 8).ToDictionary(e => GrainKeys.Expert(Model, 0, e), _ => new[] { 0, 1, 2 });
        replicas[GrainKeys.Expert(Model, 2, 3)] = [2];
        PlacementMapView map = await Map.ApplyAsync(new PlacementMapUpdate { Replicas = replicas, ChangedBy = "test", Reason = "spread layer 0", Changes = ["by hand"] });
        await RefreshEveryRankAsync(map.Version);

        string[] replicaKeys = [.. Enumerable.Range(0, 8).SelectMany(e => new[] { 0, 1, 2 }.Select(r => GrainKeys.Replica(Model, 0, e, r))), GrainKeys.Replica(Model, 2, 3, 2)];
        string[] defaultKeys = [.. Enumerable.Range(0, 8).Select(e => GrainKeys.Expert(Model, 0, e)), GrainKeys.Expert(Model, 2, 3)];
        ExpertInfo[] replicasBefore = await InfoAsync(replicaKeys), defaultsBefore = await InfoAsync(defaultKeys);
        await GenerateMatchingTheReferenceAsync();
        ExpertInfo[] replicasAfter = await InfoAsync(replicaKeys), defaultsAfter = await InfoAsync(defaultKeys);

        for (int i = 0; i < replicaKeys.Length; i++)
            Assert.Equal(GrainKeys.ParseExpert(replicaKeys[i]).Rank, replicasAfter[i].Rank);
        Assert.Equal(defaultsBefore.Select(d => d.Tokens), defaultsAfter.Select(d => d.Tokens));
        var ranksWithTokens = replicaKeys.Select((k, i) => (Key: k, Tokens: replicasAfter[i].Tokens - replicasBefore[i].Tokens))
            .Where(r => r.Tokens > 0).GroupBy(r => GrainKeys.ParseExpert(r.Key).Expert).ToDictionary(g => g.Key, g => g.Count());
        Assert.Contains(ranksWithTokens, r => r.Key.Layer == 0 && r.Value == 3);
        Assert.Equal(1, ranksWithTokens.GetValueOrDefault(new Serving.Tiers.ExpertKey(Model, 2, 3)));

        // Back to the defaults: the router follows, outputs unchanged.
        map = await Map.ApplyAsync(new PlacementMapUpdate { Replicas = replicas.ToDictionary(r => r.Key, _ => Array.Empty<int>()), ChangedBy = "test", Reason = "undo", ExpectedVersion = map.Version });
        Assert.Empty(map.Replicas);
        await RefreshEveryRankAsync(map.Version);
        await GenerateMatchingTheReferenceAsync();
        Assert.Equal(["undo", "spread layer 0"], (await Map.GetHistoryAsync(2)).Select(v => v.Reason));
    }

    [Fact]
    public async Task TheMapRefusesStaleVersionsDeadRanksAndTwoReplicasOnOneRank()
    {
        PlacementMapView map = await Map.GetAsync();
        async Task RefusedAsync(PlacementMapUpdate update, string words)
        {
            var error = await Assert.ThrowsAsync<MoeRequestException>(() => Map.ApplyAsync(update));
            Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
            Assert.Contains(words, error.Message);
        }
        await RefusedAsync(new() { Replicas = new() { [GrainKeys.Expert(Model, 1, 1)] = [7] }, ChangedBy = "test", Reason = "r" }, "rank 7 is not an active rank");
        await RefusedAsync(new() { Replicas = new() { [GrainKeys.Expert(Model, 1, 1)] = [1, 1] }, ChangedBy = "test", Reason = "r" }, "at most one replica");
        await RefusedAsync(new() { ChangedBy = "test", Reason = "r", ExpectedVersion = map.Version - 1 }, $"at version {map.Version}");
        await RefusedAsync(new() { Replicas = new() { ["default/9/1"] = [0] }, ChangedBy = "test", Reason = "r" }, "not an expert");
        await RefusedAsync(new() { ChangedBy = "test", Reason = " " }, "who made it and why");
    }

    async Task RefreshEveryRankAsync(long version)
    {
        foreach (var silo in fixture.Cluster.Silos)
        {
            PlacementMapCache cache = silo.ServiceProvider.GetRequiredService<PlacementMapCache>();
            await cache.RefreshAsync();
            Assert.Equal(version, cache.Current.Version);
        }
    }

    Task<ExpertInfo[]> InfoAsync(string[] keys) => Task.WhenAll(keys.Select(k => fixture.Client.GetGrain<IExpertGrain>(k).GetInfoAsync()));

    async Task GenerateMatchingTheReferenceAsync()
    {
        GenerateResponse[] answers = await Task.WhenAll(Prompts.Select(p => fixture.Client.GetGrain<IRouterGrain>(Model).GenerateAsync(new GenerateRequest
        {
            Prompt = p,
            Sampling = SamplingParameters.Greedy(12) with { StopTokenIds = [] },
            IncludeLogits = true,
        })));
        for (int i = 0; i < Prompts.Length; i++)
            ServingAssertions.MatchesReference(fixture.ReferenceRun(Prompts[i], SamplingOptions.Greedy with { MaxTokens = 12, StopTokenIds = [] }), answers[i]);
    }
}
