using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Model.Sampling;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace MoeRuntime.Grains.Tests;

/// <summary>What one rank does to the expert calls a test's filter picks out, set by the test.</summary>
public sealed class RankFault
{
    /// <summary>Leaves calls unanswered (until <see cref="Release"/> or 20 s), as a rank that died mid-call does.</summary>
    public volatile bool Stall;
    /// <summary>Fails calls as a rank whose connection is gone does.</summary>
    public volatile bool Fail;
    /// <summary>Answers calls as a quarantined copy does (its output had NaN).</summary>
    public volatile bool Quarantined;
    public CancellationTokenSource Release { get; } = new();
    public int Calls, Stalled, Failed, Refused;

    /// <summary>Counts a picked call and does to it what the switches say; returns when the call may go on.</summary>
    public async Task ApplyAsync()
    {
        Interlocked.Increment(ref Calls);
        if (Quarantined)
        {
            Interlocked.Increment(ref Refused);
            throw new MoeRequestException(MoeErrorCode.ExpertFailure, "expert output had NaN (test); quarantined");
        }
        if (Fail)
        {
            Interlocked.Increment(ref Failed);
            throw new SiloUnavailableException("the rank is gone (test)");
        }
        if (Stall)
        {
            Interlocked.Increment(ref Stalled);
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(20), Release.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }
}

/// <summary>
/// Three ranks whose expert calls picked by <typeparamref name="TFilter"/> can be made to stall or fail through each
/// rank's <see cref="RankFault"/>; the controllers are off so experts stay where they are.
/// </summary>
public abstract class FaultyRanksFixture<TFilter>() : ClusterFixture(3) where TFilter : class, IIncomingGrainCallFilter
{
    protected override void Configure(MoeSiloOptions options)
    {
        // Long enough that only a hedge, a detour or a fall-back, not the deadline, can explain a fast answer.
        options.ExpertCallTimeout = TimeSpan.FromSeconds(15);
        options.Control.Enabled = false;
    }

    protected override void ConfigureSilo(ISiloBuilder siloBuilder) =>
        siloBuilder.ConfigureServices(s => s.AddSingleton<RankFault>()).AddIncomingGrainCallFilter<TFilter>();

    public IEnumerable<IServiceProvider> Ranks => Cluster.Silos.Select(s => ((InProcessSiloHandle)s).ServiceProvider);

    public long Hedges => Ranks.Sum(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Hedges);
    public long Retries => Ranks.Sum(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Retries);

    /// <summary>
    /// The fault switch of a rank that does not host the router (found by its dispatcher's calls after a request): a rank
    /// whose experts the router reaches over the network, the case hedges, detours and fall-backs are for.
    /// </summary>
    public async Task<RankFault> FaultOfARankWithoutTheRouterAsync()
    {
        if (Ranks.All(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Calls == 0))
            await Client.GetGrain<IRouterGrain>(ModelName).GenerateAsync(new GenerateRequest { Prompt = "which rank routes", Sampling = SamplingParameters.Greedy(2) });
        return Ranks.First(sp => sp.GetRequiredService<RouterRuntime>().Dispatcher.Calls == 0).GetRequiredService<RankFault>();
    }
}
