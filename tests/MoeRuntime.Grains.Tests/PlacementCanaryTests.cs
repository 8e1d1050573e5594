using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Model.Sampling;
using Orleans.TestingHost;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>Slows the pinned replicas (<c>model/L/E@rank</c>) of the rank it runs on while <see cref="On"/>: a rank that is slow to answer.</summary>
public sealed class SlowReplicas
{
    public volatile bool On;
    public int Delayed;
}

public sealed class SlowReplicaFilter(SlowReplicas slow) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (slow.On && context.Grain is ExpertGrain && context.InterfaceMethod.Name == nameof(IExpertGrain.ComputeAsync)
            && GrainKeys.ParseExpert(context.TargetId.Key.ToString()!).Rank is not null)
        {
            Interlocked.Increment(ref slow.Delayed);
            await Task.Delay(PlacementCanaryFixture.Delay);
        }
        await context.Invoke();
    }
}

/// <summary>
/// Three ranks; rank 2 (the highest) is the canary, 0 and 1 the control; rank 1's pinned replicas answer slowly when
/// switched on. The controllers' and canary's timers are left to the test (an hour), and hedging is off (a hedge would
/// hide a slow replica behind the router's own copy).
/// </summary>
public sealed class PlacementCanaryFixture() : ClusterFixture(3)
{
    public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(100);
    public const int SlowRank = 1, CanaryRank = 2;

    protected override void Configure(MoeSiloOptions options)
    {
        options.ExpertCallHedgeAfter = TimeSpan.Zero;
        options.ExpertCallTimeout = TimeSpan.FromSeconds(30);
        options.Control.Interval = TimeSpan.FromHours(1);
        options.Control.Canary = options.Control.Canary with { Intervals = 4, MinIntervals = 3, PlacementTrials = true };
        options.Balancing.MapRefreshInterval = TimeSpan.FromMilliseconds(100);
    }

    protected override void ConfigureSilo(ISiloBuilder siloBuilder)
    {
        siloBuilder.Services.Configure<PrefetchControlOptions>(o => o.Interval = TimeSpan.FromHours(1));
        // Every token's inter-token latency recorded (not one in 16): a round is a few dozen tokens per router.
        siloBuilder.Services.Configure<Telemetry.TelemetryOptions>(o => o.SampleEveryNTokens = 1);
        siloBuilder.ConfigureServices(s => s.AddSingleton<SlowReplicas>()).AddIncomingGrainCallFilter<SlowReplicaFilter>();
    }

    public IServiceProvider Rank(int rank) =>
        Cluster.Silos.Select(s => ((InProcessSiloHandle)s).ServiceProvider).Single(sp => sp.GetRequiredService<ModelHost>().Rank == rank);
}

/// <summary>
/// Placement plans tried on the canary rank's router first (<c>Moe:Control:Canary:PlacementTrials</c>): a plan that sends
/// rows to a slow rank is rolled back and the placements before it written back; one that takes rows off it is promoted.
/// Requests run through every rank's router before each interval, every answer equal to the reference's.
/// </summary>
public sealed class PlacementCanaryTests(PlacementCanaryFixture fixture, ITestOutputHelper output) : IClassFixture<PlacementCanaryFixture>
{
    static readonly string[] Prompts = ["Experts on a slow rank", "0123456789"];
    static readonly string[] Metrics = ["itl_p95_s", "ttft_p95_s"];
    const int MaxTokens = 12;

    ICanaryGrain Canary => fixture.Client.GetGrain<ICanaryGrain>(ClusterFixture.ModelName);
    IExpertPlacementGrain Map => fixture.Client.GetGrain<IExpertPlacementGrain>(ClusterFixture.ModelName);

    static Dictionary<string, int[]> Every(int[] ranks) =>
        Enumerable.Range(0, 4).SelectMany(l => Enumerable.Range(0, 8).Select(e => GrainKeys.Expert(ClusterFixture.ModelName, l, e))).ToDictionary(k => k, _ => ranks);

    [Fact]
    public async Task APlanThatSendsRowsToASlowRankIsRolledBackAndThePlacementsBeforeItRestored()
    {
        PlacementMapView start = await ResetAsync(Every([]), slow: true);

        CanaryPlanOutcome outcome = await Canary.SubmitPlacementAsync(new CanaryPlacementPlan
        {
            Replicas = Every([PlacementCanaryFixture.SlowRank]),
            ExpectedVersion = start.Version,
            By = "test",
            Reason = "every expert onto the slow rank",
            Metrics = Metrics,
        });
        Assert.Equal("", outcome.Refusal);
        long trialId = Assert.IsType<long>(outcome.TrialId);
        PlacementMapView trialMap = await Map.GetAsync();
        Assert.Equal(outcome.Version, trialMap.Version);
        Assert.Equal([PlacementCanaryFixture.CanaryRank], trialMap.TrialRanks);
        // Only the canary's router uses the trial's replicas; the control routers keep the placements before it.
        Assert.Equal([PlacementCanaryFixture.SlowRank], trialMap.ReplicasFor(GrainKeys.Expert(ClusterFixture.ModelName, 0, 0), PlacementCanaryFixture.CanaryRank));
        Assert.Empty(trialMap.ReplicasFor(GrainKeys.Expert(ClusterFixture.ModelName, 0, 0), 0));
        await RefreshAsync();

        // The balancer asks the canary grain first: while a placement trial runs it writes nothing.
        BalanceDecision held = await fixture.Client.GetGrain<ILoadBalancerGrain>(ClusterFixture.ModelName).BalanceAsync(dryRun: false);
        Assert.False(held.Applied);
        Assert.Equal(trialMap.Version, (await Map.GetAsync()).Version);

        CanaryTrialView ended = await RunTrialAsync(trialId);
        Assert.Equal("rolled back", ended.Verdict);
        CanaryMetricView itl = Assert.Single(ended.Figures, f => f.Metric == "itl_p95_s");
        Assert.True(itl.Harm > itl.Threshold, $"itl p95 canary {itl.CanaryMedian} vs control {itl.ControlMedian}, threshold {itl.Threshold}");
        Assert.True(fixture.Rank(PlacementCanaryFixture.SlowRank).GetRequiredService<SlowReplicas>().Delayed > 0, "no call reached the slow rank's replicas");

        // The replaced placements are back, as a newer version; no router uses the trial's replicas any more.
        PlacementMapView after = await Map.GetAsync();
        Assert.True(after.Version > trialMap.Version);
        Assert.Equal("canary:rollback", after.ChangedBy);
        Assert.Empty(after.Replicas);
        Assert.Empty(after.TrialRanks);
        ControlDecisionRecord[] log = await fixture.Client.GetGrain<IControlDecisionLogGrain>(ClusterFixture.ModelName).GetDecisionsAsync(50, "canary");
        Assert.Contains(log, d => d.Change.StartsWith($"canary trial {trialId} rolled back: the placements before it again", StringComparison.Ordinal) && d.Version == after.Version);
        Assert.Contains(log, d => d.Change.StartsWith($"canary trial {trialId} interval", StringComparison.Ordinal) && d.Inputs.ContainsKey("itl_p95_s.harm"));
        await DriveAsync();
    }

    [Fact]
    public async Task APlanThatTakesRowsOffASlowRankIsPromotedForEveryRouter()
    {
        // Every router starts on the slow rank's replicas; the plan puts the experts back on their default grains.
        PlacementMapView start = await ResetAsync(Every([PlacementCanaryFixture.SlowRank]), slow: true);

        CanaryPlanOutcome outcome = await Canary.SubmitPlacementAsync(new CanaryPlacementPlan
        {
            Replicas = Every([]),
            ExpectedVersion = start.Version,
            By = "test",
            Reason = "every expert off the slow rank",
            Metrics = Metrics,
        });
        long trialId = Assert.IsType<long>(outcome.TrialId);
        await RefreshAsync();

        CanaryTrialView ended = await RunTrialAsync(trialId);
        Assert.Equal("promoted", ended.Verdict);
        Assert.Equal(4, ended.Intervals);

        PlacementMapView after = await Map.GetAsync();
        Assert.True(after.Version > outcome.Version);
        Assert.Equal("canary:promote", after.ChangedBy);
        Assert.Empty(after.Replicas);
        Assert.Empty(after.TrialRanks);
        ControlDecisionRecord[] log = await fixture.Client.GetGrain<IControlDecisionLogGrain>(ClusterFixture.ModelName).GetDecisionsAsync(50, "canary");
        Assert.Contains(log, d => d.Change.StartsWith($"canary trial {trialId} promoted: the placement plan for every router", StringComparison.Ordinal) && d.Version == after.Version);
        await DriveAsync();
    }

    [Fact]
    public async Task AnOperatorStartsAPlacementTrialForTheCanaryRoutersAndABadPlanIsRefusedByName()
    {
        PlacementMapView start = await ResetAsync(Every([]), slow: false);
        var bad = new CanaryRequest { Placement = new() { ["default/0/0"] = [7] }, By = "test", Reason = "a rank that does not exist" };
        MoeRequestException refused = await Assert.ThrowsAsync<MoeRequestException>(() => Canary.StartAsync(bad));
        Assert.Contains("rank 7 is not an active rank", refused.Message, StringComparison.Ordinal);
        MoeRequestException mixed = await Assert.ThrowsAsync<MoeRequestException>(() => Canary.StartAsync(bad with
        {
            Placement = new() { ["default/0/0"] = [1] },
            Tiers = new() { ["default/0/1"] = "cold" },
        }));
        Assert.Contains("changes one thing", mixed.Message, StringComparison.Ordinal);
        Assert.Null((await Canary.GetStatusAsync()).Trial);
        Assert.Equal(start.Version, (await Map.GetAsync()).Version);

        CanaryStatus started = await Canary.StartAsync(new CanaryRequest
        {
            Placement = new() { ["default/0/0"] = [0], ["default/1/3"] = [0, 1] },
            Metrics = Metrics,
            By = "test",
            Reason = "two experts onto other ranks",
        });
        CanaryTrialView trial = Assert.IsType<CanaryTrialView>(started.Trial);
        Assert.Equal("placement", trial.Kind);
        Assert.Equal([PlacementCanaryFixture.CanaryRank], trial.CanaryRanks);
        Assert.Equal([0, 1], trial.Placement["default/1/3"]);
        PlacementMapView trialMap = await Map.GetAsync();
        Assert.Equal(new long[] { start.Version, trialMap.Version }, trial.PlacementVersions);
        Assert.Equal([0], trialMap.ReplicasFor(GrainKeys.Expert(ClusterFixture.ModelName, 0, 0), PlacementCanaryFixture.CanaryRank));
        Assert.Empty(trialMap.ReplicasFor(GrainKeys.Expert(ClusterFixture.ModelName, 0, 0), 0));

        CanaryStatus ended = await Canary.EndAsync(promote: false, "test", "cancelled by the test");
        Assert.Null(ended.Trial);
        PlacementMapView after = await Map.GetAsync();
        Assert.Equal("canary:rollback", after.ChangedBy);
        Assert.Empty(after.Replicas);
        await RefreshAsync();
        await DriveAsync();
    }

    /// <summary>Ends any trial, writes <paramref name="replicas"/> as an operator would, and waits for every router to use it.</summary>
    async Task<PlacementMapView> ResetAsync(Dictionary<string, int[]> replicas, bool slow)
    {
        if ((await Canary.GetStatusAsync()).Trial is not null) await Canary.EndAsync(promote: false, "test", "left by another test");
        foreach (int rank in new[] { 0, 1, 2 }) fixture.Rank(rank).GetRequiredService<SlowReplicas>().On = false;
        PlacementMapView map = await Map.ApplyAsync(new PlacementMapUpdate { Replicas = replicas, ChangedBy = "test", Reason = "the test's starting placements" });
        await RefreshAsync();
        await DriveAsync();
        fixture.Rank(PlacementCanaryFixture.SlowRank).GetRequiredService<SlowReplicas>().On = slow;
        return map;
    }

    async Task RefreshAsync()
    {
        foreach (int rank in new[] { 0, 1, 2 }) await fixture.Rank(rank).GetRequiredService<Placement.PlacementMapCache>().RefreshAsync();
    }

    /// <summary>Up to the trial's intervals: a round through every router, then one interval judged.</summary>
    async Task<CanaryTrialView> RunTrialAsync(long trialId)
    {
        CanaryStatus status = await Canary.GetStatusAsync();
        for (int i = 0; i < status.Intervals + 1 && status.Trial is not null; i++)
        {
            await DriveAsync();
            // The ranks ship their summaries every second: the interval reads views that hold this round.
            await Task.Delay(TimeSpan.FromSeconds(2));
            status = await Canary.TickAsync();
            CanaryTrialView shown = status.Trial ?? status.Recent[0];
            output.WriteLine($"interval {i + 1}: {shown.Verdict}: {shown.Judgement}");
        }
        Assert.Null(status.Trial);
        return Assert.Single(status.Recent, t => t.Id == trialId);
    }

    /// <summary>The prompts through each rank's router concurrently, every answer checked against the reference.</summary>
    async Task DriveAsync()
    {
        var calls = new List<(string Prompt, Task<GenerateResponse> Answer)>();
        foreach (int rank in new[] { 0, 1, 2 })
        {
            IGrainFactory grains = fixture.Rank(rank).GetRequiredService<IGrainFactory>();
            foreach (string prompt in Prompts)
                calls.Add((prompt, grains.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
                {
                    Prompt = prompt,
                    Sampling = SamplingParameters.Greedy(MaxTokens) with { StopTokenIds = [] },
                    IncludeLogits = true,
                })));
        }
        foreach (var (prompt, answer) in calls)
            ServingAssertions.MatchesReference(fixture.ReferenceRun(prompt, SamplingOptions.Greedy with { MaxTokens = MaxTokens, StopTokenIds = [] }), await answer);
    }
}
