using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Client;
using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// The client's resuming stream: which failures it resumes, what it sends when it does, and that the caller sees every
/// token once, in order, against scripted attempts and against a real router whose first attempt is cut off.
/// </summary>
public sealed class ClientResumeTests(OneRankFixture fixture) : IClassFixture<OneRankFixture>
{
    static readonly ResumeOptions Fast = new()
    {
        HeartbeatInterval = TimeSpan.FromMilliseconds(100), StallTimeout = TimeSpan.FromSeconds(2),
        InitialBackoff = TimeSpan.Zero, MaxBackoff = TimeSpan.FromMilliseconds(10),
    };

    static GenerateRequest Request(int maxTokens) =>
        new() { Prompt = "p", Sampling = new SamplingParameters { Temperature = 0.7, MaxTokens = maxTokens } };

    /// <summary>A scripted router: answers attempt i with the tokens from the resume point on, ending as <paramref name="endings"/>[i] says.</summary>
    sealed class Script(int[] answer, params Func<int, Exception?>[] endings)
    {
        public List<GenerateRequest> Attempts { get; } = [];

        public async IAsyncEnumerable<TokenChunk> Open(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            int attempt = Attempts.Count;
            Attempts.Add(request);
            int from = request.ResumeTokenIds?.Length ?? 0;
            for (int i = from; i < answer.Length; i++)
            {
                if (attempt < endings.Length && endings[attempt](i) is { } failure)
                {
                    if (failure is TimeoutException) await Task.Delay(Timeout.Infinite, cancellationToken);
                    throw failure;
                }
                await Task.Yield();
                yield return TokenChunk.Heartbeat;
                yield return new TokenChunk { TokenId = answer[i], Index = i, Text = $"<{answer[i]}>" };
            }
        }
    }

    static async Task<List<TokenChunk>> Read(IAsyncEnumerable<TokenChunk> stream)
    {
        var chunks = new List<TokenChunk>();
        await foreach (TokenChunk chunk in stream) chunks.Add(chunk);
        return chunks;
    }

    static readonly int[] Answer = [11, 12, 13, 14, 15, 16, 17, 18];

    [Fact]
    public async Task ALostRankIsResumedWithTheDeliveredTokensAndNothingRepeats()
    {
        var script = new Script(Answer, i => i == 3 ? new SiloUnavailableException("gone") : null);
        var resumes = new List<StreamResume>();
        List<TokenChunk> chunks = await Read(MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8), Fast with { OnResume = resumes.Add }));

        Assert.Equal(Answer, chunks.Select(c => c.TokenId));
        Assert.Equal(Enumerable.Range(0, 8), chunks.Select(c => c.Index));
        Assert.DoesNotContain(chunks, c => c.IsHeartbeat);
        Assert.Equal(2, script.Attempts.Count);
        GenerateRequest first = script.Attempts[0], second = script.Attempts[1];
        Assert.Null(first.ResumeTokenIds);
        Assert.Equal([11, 12, 13], second.ResumeTokenIds!);
        Assert.Equal(ResumeReasons.RankLost, second.ResumeReason);
        // The same request: its id, and the seed the client fixed for it, so a resume samples the same tokens.
        Assert.False(string.IsNullOrEmpty(first.RequestId));
        Assert.Equal(first.RequestId, second.RequestId);
        Assert.NotNull(first.Sampling.Seed);
        Assert.Equal(first.Sampling.Seed, second.Sampling.Seed);
        Assert.Equal(Fast.HeartbeatInterval, first.HeartbeatInterval);
        StreamResume resume = Assert.Single(resumes);
        Assert.Equal((first.RequestId, 3, 1, ResumeReasons.RankLost), (resume.RequestId, resume.DeliveredTokens, resume.Attempt, resume.Reason));
    }

    [Fact]
    public async Task ADrainingRankIsResumedAsShuttingDown()
    {
        var script = new Script(Answer, i => i == 5 ? new MoeRequestException(MoeErrorCode.ShuttingDown, "draining") : null);
        List<TokenChunk> chunks = await Read(MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8), Fast));
        Assert.Equal(Answer, chunks.Select(c => c.TokenId));
        Assert.Equal(ResumeReasons.ShuttingDown, script.Attempts[1].ResumeReason);
    }

    [Fact]
    public async Task ARankThatStopsAnsweringIsTakenForLostAfterTheStallTimeout()
    {
        var script = new Script(Answer, i => i == 2 ? new TimeoutException("hang") : null);
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        List<TokenChunk> chunks = await Read(MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8), Fast, bound.Token));
        Assert.Equal(Answer, chunks.Select(c => c.TokenId));
        Assert.Equal([11, 12], script.Attempts[1].ResumeTokenIds!);
    }

    /// <summary>
    /// Attempt 0 sends tokens 0..2, then waits for the client's gateway-loss signal; with <paramref name="heartbeatAfterLoss"/>
    /// it then sends a heartbeat and the rest (its gateway is alive), without it nothing more (its gateway was the lost one).
    /// Later attempts send the rest from the resume point.
    /// </summary>
    sealed class LossScript(GatewayLossMonitor monitor, bool heartbeatAfterLoss)
    {
        public List<GenerateRequest> Attempts { get; } = [];
        public TaskCompletionSource ThirdTokenSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async IAsyncEnumerable<TokenChunk> Open(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            int attempt = Attempts.Count;
            Attempts.Add(request);
            for (int i = request.ResumeTokenIds?.Length ?? 0; i < Answer.Length; i++)
            {
                if (attempt == 0 && i == 3)
                {
                    Task loss = monitor.NextLoss;
                    ThirdTokenSent.TrySetResult();
                    await loss.WaitAsync(cancellationToken);
                    if (!heartbeatAfterLoss) await Task.Delay(Timeout.Infinite, cancellationToken);
                    yield return TokenChunk.Heartbeat;
                }
                await Task.Yield();
                yield return new TokenChunk { TokenId = Answer[i], Index = i, Text = $"<{Answer[i]}>" };
            }
        }
    }

    /// <summary>
    /// Streams the scripted answer with a stall timeout far beyond the test's bound, so only the lost gateway can explain
    /// a resume, and reports a lost gateway connection once the third token is out.
    /// </summary>
    static async Task<(List<TokenChunk> Chunks, List<StreamResume> Resumes, LossScript Script, GatewayLossMonitor Monitor)> LoseAGatewayMidStreamAsync(
        bool heartbeatAfterLoss, TimeSpan lostGatewayGrace)
    {
        var monitor = new GatewayLossMonitor();
        var script = new LossScript(monitor, heartbeatAfterLoss);
        var resumes = new List<StreamResume>();
        var options = Fast with { StallTimeout = TimeSpan.FromMinutes(10), LostGatewayGrace = lostGatewayGrace, GatewayLosses = monitor, OnResume = resumes.Add };
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Task<List<TokenChunk>> reading = Read(MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8), options, bound.Token));
        await script.ThirdTokenSent.Task.WaitAsync(bound.Token);
        monitor.RecordLoss();
        return (await reading, resumes, script, monitor);
    }

    [Fact]
    public async Task AStreamSilentSinceAGatewayWasLostIsResumedAfterTheGraceNotTheStallTimeout()
    {
        var (chunks, resumes, script, monitor) = await LoseAGatewayMidStreamAsync(heartbeatAfterLoss: false, TimeSpan.FromMilliseconds(300));

        Assert.Equal(Answer, chunks.Select(c => c.TokenId));
        StreamResume resume = Assert.Single(resumes);
        Assert.IsType<MoeGenerationClient.GatewayLostException>(resume.Cause);
        Assert.Equal((3, ResumeReasons.RankLost), (resume.DeliveredTokens, resume.Reason));
        Assert.Equal([11, 12, 13], script.Attempts[1].ResumeTokenIds!);
        Assert.Equal(1, monitor.Losses);
    }

    [Fact]
    public async Task AStreamThatHearsFromItsRankAfterAGatewayWasLostIsNotResumed()
    {
        var (chunks, resumes, script, _) = await LoseAGatewayMidStreamAsync(heartbeatAfterLoss: true, TimeSpan.FromSeconds(5));

        Assert.Equal(Answer, chunks.Select(c => c.TokenId));
        Assert.Empty(resumes);
        Assert.Single(script.Attempts);
    }

    [Fact]
    public void TheMonitorCountsAGatewayCountThatFellAndWakesItsWaiters()
    {
        var monitor = new GatewayLossMonitor();
        IClusterConnectionStatusObserver observer = monitor;
        Task first = monitor.NextLoss;
        observer.NotifyGatewayCountChanged(3, 2, connectionRecovered: false);
        observer.NotifyGatewayCountChanged(3, 3, connectionRecovered: false);
        Assert.False(first.IsCompleted);
        Assert.Equal(0, monitor.LastLossTimestamp);
        observer.NotifyGatewayCountChanged(2, 3, connectionRecovered: false);
        Assert.True(first.IsCompletedSuccessfully);
        Assert.Equal(1, monitor.Losses);
        Assert.NotEqual(0, monitor.LastLossTimestamp);
        Task second = monitor.NextLoss;
        Assert.False(second.IsCompleted);
        // The last gateway's loss comes as "cluster connection lost" and a count of 0, counted once.
        observer.NotifyClusterConnectionLost();
        observer.NotifyGatewayCountChanged(0, 1, connectionRecovered: false);
        Assert.True(second.IsCompletedSuccessfully);
        Assert.Equal(2, monitor.Losses);
    }

    [Fact]
    public void TheClientConnectionRegistersOneMonitorAsAConnectionObserver()
    {
        using var host = MoeClusterConnection.Build(new MoeClientOptions(), DateTimeOffset.UtcNow);
        var monitor = host.Services.GetRequiredService<GatewayLossMonitor>();
        Assert.Same(monitor, Assert.Single(host.Services.GetServices<IClusterConnectionStatusObserver>().OfType<GatewayLossMonitor>()));
        using var quick = MoeClusterConnection.Build(new MoeClientOptions { OpenConnectionTimeout = TimeSpan.FromSeconds(3) }, DateTimeOffset.UtcNow);
        var connection = quick.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ConnectionOptions>>().Value;
        Assert.Equal(TimeSpan.FromSeconds(3), connection.OpenConnectionTimeout);
        var error = Assert.Throws<ArgumentException>(() => MoeClusterConnection.Build(new MoeClientOptions { OpenConnectionTimeout = TimeSpan.Zero }, DateTimeOffset.UtcNow));
        Assert.Contains("OpenConnectionTimeout", error.Message);
    }

    [Fact]
    public async Task TheRequestsOwnFailureIsNotResumed()
    {
        var script = new Script(Answer, i => i == 1 ? new MoeRequestException(MoeErrorCode.DeadlineExceeded, "late") : null);
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Read(MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8), Fast)));
        Assert.Equal(MoeErrorCode.DeadlineExceeded, error.Code);
        Assert.Single(script.Attempts);
    }

    [Fact]
    public async Task ResumesAreBoundedAndTheLastFailureReachesTheCaller()
    {
        Func<int, Exception?> always = _ => new SiloUnavailableException("gone again");
        var script = new Script(Answer, always, always, always);
        await Assert.ThrowsAsync<SiloUnavailableException>(() => Read(MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8), Fast with { MaxResumes = 2 })));
        Assert.Equal(3, script.Attempts.Count);
    }

    [Fact]
    public async Task TheCallersCancellationEndsTheStreamWithoutAResume()
    {
        var script = new Script(Answer, i => i == 2 ? new TimeoutException("hang") : null);
        using var cancel = new CancellationTokenSource();
        var resumes = new List<StreamResume>();
        var read = new List<int>();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (TokenChunk chunk in MoeGenerationClient.StreamWithResumeAsync(script.Open, Request(8),
                               Fast with { StallTimeout = TimeSpan.FromMinutes(5), OnResume = resumes.Add }, cancel.Token))
            {
                read.Add(chunk.TokenId);
                if (read.Count == 2) cancel.Cancel();
            }
        });
        Assert.Empty(resumes);
        Assert.Single(script.Attempts);
    }

    [Fact]
    public void FailuresOfTheRankAreResumedAndTheRequestsOwnAreNot()
    {
        Assert.Equal(ResumeReasons.RankLost, MoeGenerationClient.ResumeReasonOf(new MoeGenerationClient.GatewayLostException(TimeSpan.FromSeconds(2))));
        Assert.Equal(ResumeReasons.RankLost, MoeGenerationClient.ResumeReasonOf(new MoeGenerationClient.StallException(TimeSpan.FromSeconds(5))));
        Assert.Equal(ResumeReasons.RankLost, MoeGenerationClient.ResumeReasonOf(new SiloUnavailableException("gone")));
        Assert.Equal(ResumeReasons.RankLost, MoeGenerationClient.ResumeReasonOf(new EnumerationAbortedException("deactivated")));
        Assert.Equal(ResumeReasons.RankLost, MoeGenerationClient.ResumeReasonOf(new TimeoutException("no answer")));
        Assert.Equal(ResumeReasons.ShuttingDown, MoeGenerationClient.ResumeReasonOf(new MoeRequestException(MoeErrorCode.ShuttingDown, "draining")));
        Assert.Null(MoeGenerationClient.ResumeReasonOf(new MoeRequestException(MoeErrorCode.InvalidRequest, "bad")));
        Assert.Null(MoeGenerationClient.ResumeReasonOf(new MoeRequestException(MoeErrorCode.AdmissionRejected, "full")));
        Assert.Null(MoeGenerationClient.ResumeReasonOf(new InvalidOperationException("a bug")));
    }

    [Theory]
    [InlineData(-1, 1000, 5000, "MaxResumes")]
    [InlineData(1, 10, 5000, "HeartbeatInterval")]
    [InlineData(1, 1000, 500, "StallTimeout")]
    [InlineData(1, 1000, 5000, "LostGatewayGrace", 1000)]
    [InlineData(1, 1000, 5000, "LostGatewayGrace", 6000)]
    public void InvalidOptionsAreRefusedByName(int maxResumes, int heartbeatMs, int stallMs, string field, int graceMs = 0)
    {
        var options = new ResumeOptions
        {
            MaxResumes = maxResumes, HeartbeatInterval = TimeSpan.FromMilliseconds(heartbeatMs), StallTimeout = TimeSpan.FromMilliseconds(stallMs),
            LostGatewayGrace = graceMs == 0 ? null : TimeSpan.FromMilliseconds(graceMs),
        };
        var error = Assert.Throws<ArgumentException>(() => MoeGenerationClient.StreamWithResumeAsync((_, _) => AsyncEnumerable.Empty<TokenChunk>(), Request(4), options));
        Assert.Contains(field, error.Message);
    }

    public static TheoryData<double> Temperatures => new() { 0.0, 0.9 };

    [Theory]
    [MemberData(nameof(Temperatures))]
    public async Task AStreamCutOffMidwayAndResumedOnARealRouterEqualsTheReference(double temperature)
    {
        const string prompt = "Cut off in the middle";
        var sampling = new SamplingParameters { Temperature = temperature, TopP = 0.9, Seed = 31337, MaxTokens = 20, StopTokenIds = [] };
        var expected = fixture.ReferenceRun(prompt, new SamplingOptions { Temperature = temperature, TopP = 0.9, Seed = 31337, MaxTokens = 20, StopTokenIds = [] });
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        int attempts = 0;
        async IAsyncEnumerable<TokenChunk> CutOnce(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            bool cut = attempts++ == 0;
            int seen = 0;
            await foreach (TokenChunk chunk in router.StreamAsync(request, cancellationToken))
            {
                if (cut && !chunk.IsHeartbeat && ++seen == 8) throw new SiloUnavailableException("cut off by the test");
                yield return chunk;
            }
        }
        // No stall timeout to speak of: this test cuts the stream itself, and a loaded test machine may pause a silo for seconds.
        List<TokenChunk> chunks = await Read(MoeGenerationClient.StreamWithResumeAsync(CutOnce, new GenerateRequest { Prompt = prompt, Sampling = sampling },
            Fast with { StallTimeout = TimeSpan.FromMinutes(2) }));
        Assert.Equal(2, attempts);
        Assert.Equal(expected.Tokens, chunks.Select(c => c.TokenId));
        Assert.Equal(fixture.Tokenizer.Decode(expected.Tokens.ToArray()), string.Concat(chunks.Select(c => c.Text)));
    }
}

/// <summary>The client's Orleans message limit is the configured one, not Orleans' 100 MB, and a nonsense one is refused.</summary>
public sealed class ClientMessageLimitTests
{
    [Fact]
    public void TheClientAcceptsMessagesUpToItsConfiguredLimitOnly()
    {
        using var host = MoeClusterConnection.Build(new MoeClientOptions(), DateTimeOffset.UtcNow);
        var messaging = host.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClientMessagingOptions>>().Value;
        Assert.Equal(32 << 20, messaging.MaxMessageBodySize);

        using var larger = MoeClusterConnection.Build(new MoeClientOptions { MaxMessageBodyBytes = 200 << 20 }, DateTimeOffset.UtcNow);
        Assert.Equal(200 << 20, larger.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Orleans.Configuration.ClientMessagingOptions>>().Value.MaxMessageBodySize);

        var error = Assert.Throws<ArgumentException>(() => MoeClusterConnection.Build(new MoeClientOptions { MaxMessageBodyBytes = 1000 }, DateTimeOffset.UtcNow));
        Assert.Contains("MaxMessageBodyBytes", error.Message);
    }
}
