using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Layers;
using Orleans.Configuration;

namespace MoeRuntime.Grains.Tests;

/// <summary>A rank with tight per-request limits: a KV-cache budget of 100 positions of the built-in model.</summary>
public sealed class TightLimitsFixture() : ClusterFixture(1)
{
    public static readonly long KvBudget = KvCache.BytesFor(new DefaultModelRecipe().Config, 100);

    protected override void Configure(MoeSiloOptions options)
    {
        options.Control.Enabled = false;
        options.Limits = options.Limits with
        {
            MaxTokens = 200, MaxPromptCharacters = 64, KvCacheBudgetBytes = KvBudget, AllowLogitsCapture = false, MaxStopTokens = 4,
        };
    }
}

public sealed class RequestLimitTests(TightLimitsFixture fixture) : IClassFixture<TightLimitsFixture>
{
    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    static GenerateRequest Request(string prompt, int maxTokens) =>
        new() { Prompt = prompt, Sampling = SamplingParameters.Greedy(maxTokens) with { StopTokenIds = [] } };

    async Task<MoeRequestException> Refused(GenerateRequest request)
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(request));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        return error;
    }

    [Fact]
    public async Task ARequestWhoseKvCacheCouldNeverFitIsRefusedWithAClearError()
    {
        MoeRequestException error = await Refused(Request("hi", 150));
        Assert.Contains("bytes of KV cache", error.Message);
        Assert.Contains($"budget is {TightLimitsFixture.KvBudget} bytes", error.Message);
    }

    [Fact]
    public async Task RequestsThatFitTheKvBudgetOnlyOneAtATimeAreQueuedAndBothServed()
    {
        // Each needs about 63 positions of the 100 the budget holds.
        Task<GenerateResponse> first = Router.GenerateAsync(Request("one", 60));
        Task<GenerateResponse> second = Router.GenerateAsync(Request("two", 60));
        Assert.Equal(60, (await first).TokenIds.Length);
        Assert.Equal(60, (await second).TokenIds.Length);
        Assert.Equal(0, (await Router.GetStatusAsync()).QueueDepth);
    }

    [Fact]
    public async Task PromptCharactersMaxTokensStopTokensAndLogitsCaptureHaveServerSideCaps()
    {
        Assert.Contains("65 characters; this rank accepts at most 64", (await Refused(Request(new string('x', 65), 4))).Message);
        Assert.Contains("at most 200 per request", (await Refused(Request("hi", 201))).Message);
        Assert.Contains("5 stop tokens", (await Refused(Request("hi", 4) with
        {
            Sampling = SamplingParameters.Greedy(4) with { StopTokenIds = [1, 2, 3, 4, 5] },
        })).Message);
        Assert.Contains("logits capture is switched off", (await Refused(Request("hi", 4) with { IncludeLogits = true })).Message);
    }

    [Fact]
    public void TheSilosMessageSizeLimitIsWhatTheModelsPayloadsNeed()
    {
        IServiceProvider services = fixture.Cluster.Silos[0].ServiceProvider;
        int limit = services.GetRequiredService<IOptions<SiloMessagingOptions>>().Value.MaxMessageBodySize;
        Assert.Equal(MessageSizeLimit.For(services.GetRequiredService<ModelHost>().Config, services.GetRequiredService<IOptions<MoeSiloOptions>>().Value), limit);
        Assert.True(limit < 100 * 1024 * 1024, $"the limit {limit} is below Orleans' 100 MB default");
    }
}

public sealed class MessageSizeLimitTests
{
    [Fact]
    public void TheLimitCoversTheLargestPayloadAndNeverFallsUnderTheFloor()
    {
        var model = new DefaultModelRecipe().Config;
        var options = new MoeSiloOptions();
        Assert.Equal(MessageSizeLimit.Floor, MessageSizeLimit.For(model, options));

        // A wide model: one step's tokens all routed to one expert is the largest payload.
        var wide = model with { HiddenSize = 8192 };
        var batch = new MoeSiloOptions { MaxBatchTokens = 4096 };
        long expertCall = 4096L * 8192 * sizeof(float);
        Assert.Equal(expertCall + expertCall / 4, MessageSizeLimit.For(wide, batch));

        // One call per rank carries every token once for each of its experts on that rank: up to top-k rows per token.
        var perRank = new MoeSiloOptions { MaxBatchTokens = 4096, ExpertCallsPerRank = true };
        long rankCall = expertCall * wide.ExpertsPerToken;
        Assert.Equal(rankCall + rankCall / 4, MessageSizeLimit.For(wide, perRank));

        // Allowing logits capture makes room for the captured rows.
        var logits = new MoeSiloOptions { Limits = new() { AllowLogitsCapture = true, MaxLogitsCaptureTokens = 1024 } };
        Assert.True(MessageSizeLimit.For(model with { VocabularySize = 50_000 }, logits) >= 1024L * 50_000 * sizeof(float));
    }
}
