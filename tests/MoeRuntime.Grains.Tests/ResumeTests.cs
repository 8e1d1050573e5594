using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// A request resumed with the tokens its client already had continues exactly where it stopped: same tokens, same
/// positions, the same text, for greedy and seeded sampling; resumes that cannot continue are refused by name.
/// </summary>
public sealed class ResumeTests(OneRankFixture fixture) : IClassFixture<OneRankFixture>
{
    const string Prompt = "Resume where it stopped";

    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    static async Task<List<TokenChunk>> Collect(IAsyncEnumerable<TokenChunk> stream)
    {
        var chunks = new List<TokenChunk>();
        await foreach (TokenChunk chunk in stream) chunks.Add(chunk);
        return chunks;
    }

    public static TheoryData<double, double, int> Samplings => new()
    {
        { 0.0, 1.0, 0 },
        { 0.9, 0.9, 0 },
        { 1.2, 1.0, 6 },
    };

    [Theory]
    [MemberData(nameof(Samplings))]
    public async Task AResumedStreamContinuesWithTheSameTokensPositionsAndText(double temperature, double topP, int topK)
    {
        var sampling = new SamplingParameters { Temperature = temperature, TopP = topP, TopK = topK, Seed = 9001, MaxTokens = 24, StopTokenIds = [] };
        var request = new GenerateRequest { Prompt = Prompt, Sampling = sampling, RequestId = "resume-1" };
        List<TokenChunk> whole = await Collect(Router.StreamAsync(request));
        Assert.Equal(24, whole.Count);
        var reference = fixture.ReferenceRun(Prompt, new SamplingOptions
        {
            Temperature = temperature, TopP = topP, TopK = topK, Seed = 9001, MaxTokens = 24, StopTokenIds = [],
        });
        Assert.Equal(reference.Tokens, whole.Select(c => c.TokenId));

        const int k = 9;
        List<TokenChunk> rest = await Collect(Router.StreamAsync(request with
        {
            ResumeTokenIds = whole.Take(k).Select(c => c.TokenId).ToArray(),
            ResumeReason = ResumeReasons.RankLost,
        }));
        Assert.Equal(whole.Skip(k).Select(c => c.TokenId), rest.Select(c => c.TokenId));
        Assert.Equal(Enumerable.Range(k, 24 - k), rest.Select(c => c.Index));
        Assert.Equal(string.Concat(whole.Select(c => c.Text)), string.Concat(whole.Take(k).Select(c => c.Text)) + string.Concat(rest.Select(c => c.Text)));
    }

    [Fact]
    public async Task AResumedGenerateReturnsTheWholeAnswer()
    {
        GenerateRequest request = new() { Prompt = Prompt, Sampling = SamplingParameters.Greedy(16) with { StopTokenIds = [] } };
        GenerateResponse whole = await Router.GenerateAsync(request);
        GenerateResponse resumed = await Router.GenerateAsync(request with { ResumeTokenIds = whole.TokenIds[..5], ResumeReason = ResumeReasons.ShuttingDown });
        Assert.Equal(whole.TokenIds, resumed.TokenIds);
        Assert.Equal(whole.Text, resumed.Text);
        Assert.Equal(whole.PromptTokens, resumed.PromptTokens);
    }

    [Fact]
    public async Task HeartbeatsCarryNoTokenAndLeaveTheTokensAlone()
    {
        GenerateRequest request = new() { Prompt = Prompt, Sampling = SamplingParameters.Greedy(12) with { StopTokenIds = [] } };
        List<TokenChunk> plain = await Collect(Router.StreamAsync(request));
        List<TokenChunk> beating = await Collect(Router.StreamAsync(request with { HeartbeatInterval = GenerateRequest.MinHeartbeatInterval }));
        Assert.All(beating.Where(c => c.IsHeartbeat), c => Assert.Equal((-1, -1, ""), (c.TokenId, c.Index, c.Text)));
        Assert.Equal(plain.Select(c => (c.TokenId, c.Index, c.Text)), beating.Where(c => !c.IsHeartbeat).Select(c => (c.TokenId, c.Index, c.Text)));
        Assert.DoesNotContain(plain, c => c.IsHeartbeat);
    }

    [Fact]
    public async Task AResumeHoldingEveryTokenIsRefusedByName()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Collect(Router.StreamAsync(new GenerateRequest
        {
            Prompt = Prompt, Sampling = SamplingParameters.Greedy(3), ResumeTokenIds = [5, 6, 7],
        })));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains("resume_token_ids", error.Message);
    }

    [Fact]
    public async Task ASampledResumeWithoutASeedIsRefusedByName()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Collect(Router.StreamAsync(new GenerateRequest
        {
            Prompt = Prompt, Sampling = new SamplingParameters { Temperature = 1, MaxTokens = 8 }, ResumeTokenIds = [5],
        })));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains("seed", error.Message);
    }

    [Theory]
    [InlineData(10)]
    [InlineData(120_000)]
    public async Task AHeartbeatIntervalOutOfBoundsIsRefusedByName(int milliseconds)
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Collect(Router.StreamAsync(new GenerateRequest
        {
            Prompt = Prompt, Sampling = SamplingParameters.Greedy(2), HeartbeatInterval = TimeSpan.FromMilliseconds(milliseconds),
        })));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains("heartbeat_interval", error.Message);
    }
}

/// <summary>The serving failure-detection values reach Orleans' membership options on every rank.</summary>
public sealed class FailureDetectionTests(OneRankFixture fixture) : IClassFixture<OneRankFixture>
{
    [Fact]
    public void TheRankRunsWithTheServingFailureDetection()
    {
        var defaults = new MoeRuntime.Grains.Hosting.FailureDetectionOptions();
        var membership = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions
            .GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClusterMembershipOptions>>(fixture.Cluster.Silos[0].ServiceProvider).Value;
        Assert.Equal(
            (defaults.ProbeTimeout, defaults.NumMissedProbesLimit, defaults.NumVotesForDeathDeclaration, defaults.DeathVoteExpirationTimeout, defaults.IAmAliveTablePublishTimeout),
            (membership.ProbeTimeout, membership.NumMissedProbesLimit, membership.NumVotesForDeathDeclaration, membership.DeathVoteExpirationTimeout, membership.IAmAliveTablePublishTimeout));
        Assert.NotEqual(new Orleans.Configuration.ClusterMembershipOptions().ProbeTimeout, membership.ProbeTimeout);
        Assert.True(membership.MinProbeTimeout <= membership.ProbeTimeout && membership.ProbeTimeout <= membership.MaxProbeTimeout);
    }
}
