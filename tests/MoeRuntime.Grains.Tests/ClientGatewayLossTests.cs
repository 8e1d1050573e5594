using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Client;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>When a silent stream is taken for lost, with and without a lost gateway connection since its last chunk.</summary>
public sealed class LossDeadlineTests
{
    static readonly TimeSpan Stall = TimeSpan.FromSeconds(5), Grace = TimeSpan.FromSeconds(2);

    static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    [Fact]
    public void WithoutALostGatewayTheStallTimeoutDecides()
    {
        Assert.Equal(new LossDeadline.Wait(S(4), false), LossDeadline.Of(S(1), null, Stall, Grace));
        Assert.True(LossDeadline.Of(S(5), null, Stall, Grace).Expired);
        Assert.False(LossDeadline.Of(S(4.9), null, Stall, Grace).Expired);
    }

    [Fact]
    public void AfterALostGatewayTheGraceCountsFromTheLoss()
    {
        // Silent 1 s, the loss 0.5 s ago: 1.5 s more, for the lost gateway.
        Assert.Equal(new LossDeadline.Wait(S(1.5), true), LossDeadline.Of(S(1), S(0.5), Stall, Grace));
        LossDeadline.Wait expired = LossDeadline.Of(S(2.5), S(2), Stall, Grace);
        Assert.True(expired.Expired);
        Assert.True(expired.ForLostGateway);
    }

    [Fact]
    public void TheStallTimeoutStillDecidesWhenItComesFirst()
    {
        // Silent 4.5 s, the loss just now: the stall timeout (0.5 s) comes before the grace (2 s).
        Assert.Equal(new LossDeadline.Wait(S(0.5), false), LossDeadline.Of(S(4.5), S(0), Stall, Grace));
    }

    [Fact]
    public void ALossBeforeTheLastChunkOrAfterNowIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LossDeadline.Of(S(1), S(2), Stall, Grace));
        Assert.Throws<ArgumentOutOfRangeException>(() => LossDeadline.Of(S(1), S(-0.1), Stall, Grace));
        Assert.Throws<ArgumentOutOfRangeException>(() => LossDeadline.Of(S(-1), null, Stall, Grace));
    }

    [Fact]
    public void TheDefaultGraceIsTwoHeartbeatsAtMostTheStallTimeout()
    {
        Assert.Equal(S(2), ResumeOptions.Default.EffectiveLostGatewayGrace);
        Assert.Equal(S(3), new ResumeOptions { HeartbeatInterval = S(2), StallTimeout = S(3) }.EffectiveLostGatewayGrace);
        Assert.Equal(S(1.5), new ResumeOptions { LostGatewayGrace = S(1.5) }.EffectiveLostGatewayGrace);
    }
}

/// <summary>Lets a rank stop answering every grain call, as a process that died does, until the test releases it.</summary>
public sealed class RankFreeze
{
    public volatile bool Frozen;
    public CancellationTokenSource Release { get; } = new();
    public int Held;
}

sealed class RankFreezeFilter(RankFreeze freeze) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (freeze.Frozen)
        {
            Interlocked.Increment(ref freeze.Held);
            await Task.Delay(Timeout.Infinite, freeze.Release.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        await context.Invoke();
    }
}

/// <summary>Three ranks, a test client with the <see cref="GatewayLossMonitor"/>, each rank able to freeze.</summary>
public sealed class LostGatewayFixture() : ClusterFixture(3)
{
    protected override void Configure(MoeSiloOptions options) => options.Control.Enabled = false;

    protected override void ConfigureSilo(ISiloBuilder siloBuilder) =>
        siloBuilder.ConfigureServices(s => s.AddSingleton<RankFreeze>()).AddIncomingGrainCallFilter<RankFreezeFilter>();

    protected override void ConfigureClient(IClientBuilder client) => client.AddGatewayLossMonitor();

    public GatewayLossMonitor Monitor => Client.ServiceProvider.GetRequiredService<GatewayLossMonitor>();

    /// <summary>The rank whose router the client's calls reach (its gateway): the one whose dispatcher calls experts.</summary>
    public async Task<InProcessSiloHandle> RouterRankAsync()
    {
        static IServiceProvider Services(InProcessSiloHandle silo) => silo.ServiceProvider;
        if (Cluster.Silos.All(s => Services(s).GetRequiredService<RouterRuntime>().Dispatcher.Calls == 0))
            await Client.GetGrain<IRouterGrain>(ModelName).GenerateAsync(new GenerateRequest { Prompt = "which rank routes", Sampling = SamplingParameters.Greedy(2) });
        return Assert.Single(Cluster.Silos, s => Services(s).GetRequiredService<RouterRuntime>().Dispatcher.Calls > 0);
    }
}

/// <summary>
/// The rank serving a stream dies (it stops answering, then its silo is killed and the client's gateway connection to it
/// closes): the client takes the stream for lost on the connection event and the silence after it, not on the stall
/// timeout, and resumes it through a surviving gateway with the same tokens as an uninterrupted run.
/// </summary>
public sealed class ClientGatewayLossTests(LostGatewayFixture fixture) : IClassFixture<LostGatewayFixture>
{
    [Fact]
    public async Task AStreamOnAKilledGatewayIsResumedOnTheConnectionEventWithTheReferenceTokens()
    {
        const string prompt = "The gateway under this stream dies";
        var expected = fixture.ReferenceRun(prompt, new SamplingOptions { Temperature = 0, MaxTokens = 40, StopTokenIds = [] });
        InProcessSiloHandle victim = await fixture.RouterRankAsync();
        RankFreeze freeze = victim.ServiceProvider.GetRequiredService<RankFreeze>();
        long lossesBefore = fixture.Monitor.Losses;
        var resumes = new List<StreamResume>();
        // A stall timeout (and the Orleans client's 30 s response timeout) beyond the test's bound: only the connection
        // event can explain a resume, and its cause says so.
        var options = new ResumeOptions
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(500), StallTimeout = TimeSpan.FromMinutes(10), LostGatewayGrace = TimeSpan.FromSeconds(1),
            InitialBackoff = TimeSpan.FromMilliseconds(100), OnResume = resumes.Add,
        };
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var request = new GenerateRequest { Prompt = prompt, Sampling = new SamplingParameters { Temperature = 0, MaxTokens = 40, StopTokenIds = [] } };
        var tokens = new List<int>();
        Task? kill = null;
        try
        {
            await foreach (TokenChunk chunk in fixture.Client.StreamWithResumeAsync(ClusterFixture.ModelName, request, options, bound.Token))
            {
                tokens.Add(chunk.TokenId);
                if (tokens.Count == 5)
                {
                    // The rank goes silent (its answers stop, a stopping rank's drain error cannot reach the client), then dies.
                    freeze.Frozen = true;
                    kill = Task.Run(() => fixture.Cluster.KillSiloAsync(victim));
                }
            }
        }
        finally
        {
            await freeze.Release.CancelAsync();
        }
        await kill!.WaitAsync(bound.Token);

        Assert.Equal(expected.Tokens, tokens);
        StreamResume resume = Assert.Single(resumes);
        Assert.IsType<MoeGenerationClient.GatewayLostException>(resume.Cause);
        Assert.Equal(ResumeReasons.RankLost, resume.Reason);
        Assert.InRange(resume.DeliveredTokens, 5, 39);
        Assert.True(fixture.Monitor.Losses > lossesBefore, "the client's gateway connection to the killed rank closed without a notification");
        Assert.True(freeze.Held > 0, "the frozen rank held no call: the stream was not served there");
    }
}
