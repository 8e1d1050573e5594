using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Serving.Dispatch;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>Greedy output of the served model equals the single-process reference, on one rank and on three.</summary>
public abstract class DistributedGenerationTests(ClusterFixture fixture)
{
    const string Prompt = "Experts on every rank";

    static GenerateRequest Greedy(int maxTokens) => ServingAssertions.GreedyWithLogits(Prompt, maxTokens);

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    [Fact]
    public async Task GreedyOutputEqualsTheReference()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 24, StopTokenIds = [] });
        GenerateResponse actual = await Router.GenerateAsync(Greedy(24));
        ServingAssertions.MatchesReference(expected, actual);
        Assert.Equal("length", actual.FinishReason);
    }

    [Fact]
    public async Task SeededSamplingEqualsTheReference()
    {
        var options = new SamplingOptions { Temperature = 0.9, TopP = 0.9, Seed = 42, MaxTokens = 20, StopTokenIds = [] };
        var expected = fixture.ReferenceRun(Prompt, options);
        GenerateResponse actual = await Router.GenerateAsync(new GenerateRequest
        {
            Prompt = Prompt,
            Sampling = new SamplingParameters { Temperature = 0.9, TopP = 0.9, Seed = 42, MaxTokens = 20, StopTokenIds = [] },
            IncludeLogits = true,
        });
        ServingAssertions.MatchesReference(expected, actual);
        Assert.Equal(42UL, actual.Seed);
    }

    [Fact]
    public async Task StreamedChunksSpellTheWholeAnswer()
    {
        GenerateResponse whole = await Router.GenerateAsync(Greedy(16));
        var chunks = new List<TokenChunk>();
        await foreach (TokenChunk chunk in Router.StreamAsync(Greedy(16))) chunks.Add(chunk);
        Assert.Equal(whole.TokenIds, chunks.Select(c => c.TokenId));
        Assert.Equal(Enumerable.Range(0, 16), chunks.Select(c => c.Index));
        Assert.Equal(whole.Text, string.Concat(chunks.Select(c => c.Text)));
    }

    [Fact]
    public async Task ConcurrentRequestsEachEqualTheReference()
    {
        string[] prompts = ["a", "The cluster", "Mixture of experts, in tiers", "0123456789"];
        var requests = prompts.Select(p => Router.GenerateAsync(new GenerateRequest
        {
            Prompt = p,
            Sampling = SamplingParameters.Greedy(12) with { StopTokenIds = [] },
            IncludeLogits = true,
        })).ToArray();
        GenerateResponse[] responses = await Task.WhenAll(requests);
        for (int i = 0; i < prompts.Length; i++)
            ServingAssertions.MatchesReference(fixture.ReferenceRun(prompts[i], SamplingOptions.Greedy with { MaxTokens = 12, StopTokenIds = [] }), responses[i]);
    }

    [Theory]
    [InlineData("", 8, 1.0, MoeErrorCode.InvalidRequest)]
    [InlineData("hello", 0, 1.0, MoeErrorCode.InvalidRequest)]
    [InlineData("hello", 8, 0.0, MoeErrorCode.InvalidRequest)]
    public async Task BadRequestsGetAClearTypedError(string prompt, int maxTokens, double topP, MoeErrorCode code)
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(new GenerateRequest
        {
            Prompt = prompt,
            Sampling = new SamplingParameters { MaxTokens = maxTokens, TopP = topP, Temperature = 1 },
        }));
        Assert.Equal(code, error.Code);
    }

    [Fact]
    public async Task AnOverlongPromptIsRefused()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(new GenerateRequest { Prompt = new string('x', 5000) }));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
    }

    [Fact]
    public async Task AnUnknownModelIsRefused()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() =>
            fixture.Client.GetGrain<IRouterGrain>("no-such-model").GenerateAsync(new GenerateRequest { Prompt = "hi" }));
        Assert.Equal(MoeErrorCode.UnknownModel, error.Code);
    }

    [Fact]
    public async Task ATierSetChangeMidGenerationChangesNothingInTheOutput()
    {
        var expected = fixture.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 40, StopTokenIds = [] });
        var chunks = new List<TokenChunk>();
        bool changed = false;
        await foreach (TokenChunk chunk in fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).StreamAsync(Greedy(40)))
        {
            chunks.Add(chunk);
            if (chunk.Index != 10) continue;
            foreach (RankInfo rank in await fixture.Client.GetGrain<IClusterGrain>(0).GetRanksAsync())
            {
                ITierSetGrain tierSet = fixture.Client.GetGrain<ITierSetGrain>($"{ClusterFixture.ModelName}/{rank.Rank}");
                TierSetView current = await tierSet.GetAsync();
                var flipped = current.Tiers.ToDictionary(t => t.Key, t => t.Value == "cold" ? "hot" : "cold");
                foreach (string key in flipped.Keys.Skip(3).ToArray()) flipped[key] = "cold";
                await tierSet.UpdateAsync(new TierSetUpdate { Tiers = flipped, ChangedBy = "test", Reason = "mid-generation move" });
            }
            changed = true;
        }
        Assert.True(changed);
        Assert.Equal(expected.Tokens, chunks.Select(c => c.TokenId));
        for (int step = 0; step < chunks.Count; step++)
            for (int v = 0; v < chunks[step].Logits!.Length; v++)
                Assert.True(Math.Abs(expected.Logits![step][v] - chunks[step].Logits![v]) < 1e-4);
    }
}

public sealed class OneRankGenerationTests(OneRankFixture fixture) : DistributedGenerationTests(fixture), IClassFixture<OneRankFixture>;

public sealed class ThreeRankGenerationTests(ThreeRankFixture fixture) : DistributedGenerationTests(fixture), IClassFixture<ThreeRankFixture>
{
    [Fact]
    public async Task ARequestUsesExpertsOnEveryRank()
    {
        await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
        {
            Prompt = "Spread the experts",
            Sampling = SamplingParameters.Greedy(4),
        });
        var ranks = new HashSet<int>();
        for (int layer = 0; layer < 4; layer++)
            for (int expert = 0; expert < 8; expert++)
            {
                ExpertInfo info = await fixture.Client.GetGrain<IExpertGrain>($"{ClusterFixture.ModelName}/{layer}/{expert}").GetInfoAsync();
                if (info.Calls > 0) ranks.Add(info.Rank);
            }
        Assert.Equal(new HashSet<int> { 0, 1, 2 }, ranks);
        RankInfo[] members = await fixture.Client.GetGrain<IClusterGrain>(0).GetRanksAsync();
        Assert.Equal([0, 1, 2], members.Select(m => m.Rank));
    }

    [Fact]
    public async Task TheStepBreakdownAccountsForEveryLayerWithTheExpertsOwnComputeTime()
    {
        StepBreakdown[] breakdowns = fixture.Cluster.Silos
            .Select(s => ((InProcessSiloHandle)s).ServiceProvider.GetRequiredService<RankTelemetry>().Breakdown).ToArray();
        long before = breakdowns.Sum(b => b.Dispatches(3));
        await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
        {
            Prompt = "Time every layer",
            Sampling = SamplingParameters.Greedy(6) with { StopTokenIds = [] },
        });
        // One dispatch per layer per step: the prompt's step and one per further token.
        Assert.True(breakdowns.Sum(b => b.Dispatches(3)) - before >= 6);
        for (int layer = 0; layer < 4; layer++)
            foreach (StepPhase phase in new[] { StepPhase.Attention, StepPhase.Gate, StepPhase.Serialise, StepPhase.RemoteCompute, StepPhase.Combine })
                Assert.True(breakdowns.Sum(b => b.Total(layer, phase).Ticks) > 0, $"layer {layer} has no {phase} time");
        // The experts' compute comes back in their answers and is part of the calls the router waited for.
        Assert.True(breakdowns.Sum(b => b.Total(0, StepPhase.Send).Ticks + b.Total(0, StepPhase.Return).Ticks) > 0);
    }
}
