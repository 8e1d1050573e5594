using MoeRuntime.Control.Cost;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Tests;

/// <summary>One rank where every expert starts cold, with cost-adaptive routing on and a guard that allows any change.</summary>
public sealed class CostAwareFixture() : ClusterFixture(1)
{
    protected override void Configure(MoeSiloOptions options)
    {
        options.DefaultTier = Tier.Cold;
        // The tests set the tiers themselves; a controller moving experts meanwhile would change what is cold.
        options.Control.Enabled = false;
        options.CostAwareRouting = new CostAwareRoutingOptions { Enabled = true, ColdPenalty = 1f, MaxChangedShare = 1 };
    }
}

/// <summary>The same, with a guard that allows no change at all.</summary>
public sealed class GuardedCostAwareFixture() : ClusterFixture(1)
{
    protected override void Configure(MoeSiloOptions options)
    {
        options.DefaultTier = Tier.Cold;
        options.Control.Enabled = false;
        options.CostAwareRouting = new CostAwareRoutingOptions { Enabled = true, ColdPenalty = 1f, MaxChangedShare = 0 };
    }
}

public sealed class CostAwareRoutingTests(CostAwareFixture biased, GuardedCostAwareFixture guarded)
    : IClassFixture<CostAwareFixture>, IClassFixture<GuardedCostAwareFixture>
{
    const string Prompt = "The experts of the first layer";

    [Fact]
    public async Task Routing_avoids_cold_experts_once_some_are_warm_and_requests_still_complete()
    {
        IRouterGrain router = await WarmHalfOfLayerZeroAsync(biased);
        long[] before = await ColdCallsAsync();
        GenerateResponse response = await router.GenerateAsync(new GenerateRequest { Prompt = Prompt, Sampling = SamplingParameters.Greedy(16) with { StopTokenIds = [] } });

        Assert.Equal(16, response.TokenIds.Length);
        Assert.Equal(before, await ColdCallsAsync());
        RouterStatus status = await router.GetStatusAsync();
        Assert.True(status.CostAwareRoutingApplied > 0, "no layer-step was biased");
        Assert.Equal(0, status.CostAwareRoutingRefused);
    }

    /// <summary>Calls so far to layer 0's cold half.</summary>
    async Task<long[]> ColdCallsAsync() => (await Task.WhenAll(Enumerable.Range(4, 4)
        .Select(e => biased.Client.GetGrain<IExpertGrain>($"{ClusterFixture.ModelName}/0/{e}").GetInfoAsync()))).Select(e => e.Calls).ToArray();

    [Fact]
    public async Task A_guard_that_allows_no_change_keeps_outputs_equal_to_the_reference()
    {
        IRouterGrain router = await WarmHalfOfLayerZeroAsync(guarded);
        GenerateResponse response = await router.GenerateAsync(new GenerateRequest
        {
            Prompt = Prompt, Sampling = SamplingParameters.Greedy(12) with { StopTokenIds = [] }, IncludeLogits = true,
        });

        ServingAssertions.MatchesReference(guarded.ReferenceRun(Prompt, SamplingOptions.Greedy with { MaxTokens = 12, StopTokenIds = [] }), response);
        RouterStatus status = await router.GetStatusAsync();
        Assert.True(status.CostAwareRoutingRefused > 0, "the guard never refused");
    }

    /// <summary>
    /// Makes experts 0–3 of layer 0 warm (the rest stay cold, so the penalty would steer layer 0 towards
    /// them), and lets the router see it: it reads the tiers in the background, at most every 2 s, from its first step.
    /// </summary>
    static async Task<IRouterGrain> WarmHalfOfLayerZeroAsync(ClusterFixture fixture)
    {
        await fixture.Client.GetGrain<ITierSetGrain>($"{ClusterFixture.ModelName}/0").UpdateAsync(new TierSetUpdate
        {
            Tiers = Enumerable.Range(0, 4).ToDictionary(e => $"{ClusterFixture.ModelName}/0/{e}", _ => "warm"),
            ChangedBy = "test",
            Reason = "make half of layer 0 warm",
        });
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        await router.GenerateAsync(new GenerateRequest { Prompt = Prompt, Sampling = SamplingParameters.Greedy(2) with { StopTokenIds = [] } });
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        return router;
    }
}
