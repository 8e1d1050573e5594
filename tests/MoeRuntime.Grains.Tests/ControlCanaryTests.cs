using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Serving.Tiers;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// The controllers' own changes under canary on two ranks: a tier controller's plan that moves more than
/// <c>AutoTrialAbove</c> experts becomes a trial on its rank, and a plan made while it runs is not written. Every
/// experts starts cold and the latency targets are unreachable, so the latency controller plans up to its guardrail's
/// 16 moves per rank. Requests run throughout and every output must equal the reference's.
/// </summary>
public sealed class ControllerPlanCanaryTests(ControllerPlanCanaryTests.AutoTrialFixture fixture, ITestOutputHelper output)
    : IClassFixture<ControllerPlanCanaryTests.AutoTrialFixture>
{
    public sealed class AutoTrialFixture : ControlFixture
    {
        public const int AutoTrialAbove = 3;

        public AutoTrialFixture()
            : base(2)
        {
        }

        protected override void Configure(MoeSiloOptions options)
        {
            base.Configure(options);
            options.Control.Canary = options.Control.Canary with { Intervals = 4, MinIntervals = 3, AutoTrialAbove = AutoTrialAbove };
        }
    }

    ICanaryGrain Canary => fixture.Client.GetGrain<ICanaryGrain>(ClusterFixture.ModelName);

    ITierSetGrain TierSet(int rank) => fixture.Client.GetGrain<ITierSetGrain>($"{ClusterFixture.ModelName}/{rank}");

    [Fact]
    public async Task APlanOverTheSizeIsTriedOnItsRankAndAPlanMadeMeanwhileIsNotWritten()
    {
        foreach (int rank in new[] { 0, 1 })
        {
            TierSetView view = await TierSet(rank).GetAsync();
            await TierSet(rank).UpdateAsync(new TierSetUpdate { Tiers = view.Tiers.Keys.ToDictionary(k => k, _ => "cold"), ChangedBy = "test", Reason = "every expert cold" });
        }
        for (int round = 0; round < 2; round++) await fixture.ServeRoundAsync(round);
        await fixture.WaitForLatencyAsync();
        Dictionary<int, long> versions = [];
        foreach (int rank in new[] { 0, 1 }) versions[rank] = (await TierSet(rank).GetAsync()).Version;

        await fixture.Controller.TickAsync();

        // The first rank the loop plans becomes the canary; the other rank's plan, made while the trial runs, is not written.
        CanaryStatus status = await Canary.GetStatusAsync();
        CanaryTrialView trial = Assert.IsType<CanaryTrialView>(status.Trial);
        output.WriteLine($"trial {trial.Id}: {trial.Kind} by {trial.By} on {string.Join(",", trial.CanaryRanks)} against {string.Join(",", trial.ControlRanks)}: {trial.Tiers.Count} moves");
        Assert.Equal(CanaryKinds.Plan, trial.Kind);
        Assert.Equal("controller:latency", trial.By);
        int canary = Assert.Single(trial.CanaryRanks), control = Assert.Single(trial.ControlRanks);
        Assert.NotEqual(canary, control);
        Assert.True(trial.Tiers.Count > AutoTrialFixture.AutoTrialAbove, $"{trial.Tiers.Count} moves");
        Assert.Equal([canary], await Canary.GetHeldRanksAsync());
        TierSetView canaryView = await TierSet(canary).GetAsync();
        Assert.Equal("canary:controller:latency", canaryView.ChangedBy);
        Assert.All(trial.Tiers, t => Assert.Equal(t.Value, canaryView.Tiers[t.Key]));
        Assert.Equal(versions[control], (await TierSet(control).GetAsync()).Version);

        ControlDecisionRecord[] log = await fixture.Log.GetDecisionsAsync(100, null);
        ControlDecisionRecord started = Assert.Single(log, d => d.Controller == "canary" && d.Change.StartsWith($"canary trial {trial.Id} started: controller:latency's plan", StringComparison.Ordinal));
        Assert.Equal(canary, started.Rank);
        Assert.Equal(canaryView.Version, started.Version);
        Assert.Contains(log, d => d.Controller == "latency" && d.Rank == control && d.Outcome == "refused" && d.Reason.Contains($"canary trial {trial.Id} is under way", StringComparison.Ordinal));

        // Judged to its end against the control rank.
        for (int i = 0; i < status.Intervals && status.Trial is not null; i++)
        {
            for (int round = 0; round < 2; round++) await fixture.ServeRoundAsync(10 + i * 2 + round);
            status = await Canary.TickAsync();
            CanaryTrialView shown = status.Trial ?? status.Recent[0];
            output.WriteLine($"interval {i + 1}: {shown.Verdict}: {shown.Judgement}");
        }
        Assert.Null(status.Trial);
        CanaryTrialView ended = Assert.Single(status.Recent, t => t.Id == trial.Id);
        Assert.Contains(ended.Verdict, new[] { "promoted", "rolled back" });
        Assert.Empty(await Canary.GetHeldRanksAsync());

        // With the trial ended, the next plan over the size is the next trial; cancelled, its rank's previous tiers come back.
        await fixture.ServeRoundAsync(30);
        Dictionary<int, TierSetView> before = [];
        foreach (int rank in new[] { 0, 1 }) before[rank] = await TierSet(rank).GetAsync();
        await fixture.Controller.TickAsync();
        CanaryTrialView next = Assert.IsType<CanaryTrialView>((await Canary.GetStatusAsync()).Trial);
        Assert.Equal(CanaryKinds.Plan, next.Kind);
        int nextRank = Assert.Single(next.CanaryRanks);
        output.WriteLine($"trial {next.Id} on {nextRank}: {next.Tiers.Count} moves");
        await Canary.EndAsync(promote: false, "test", "cancel");
        TierSetView restored = await TierSet(nextRank).GetAsync();
        Assert.Equal("canary:rollback", restored.ChangedBy);
        Assert.All(next.Tiers.Keys, e => Assert.Equal(before[nextRank].Tiers[e], restored.Tiers[e]));
        Assert.Contains(next.Tiers, t => before[nextRank].Tiers[t.Key] != t.Value);
        await fixture.ServeRoundAsync(31);
    }
}

/// <summary>
/// Prefetch settings under canary on two ranks whose hot tier holds four experts, prefetching three layers ahead: the
/// canary rank's router prefetches with the trial's settings, the control rank's with the cluster's. On this model
/// prefetching every layer ahead raises the hot hit ratio by about ten points (measured here: 0.37 against 0.27 with
/// prefetching off, stall within the noise), so turning it off is the harmful change, rolled back on the ranks' real
/// tier-store counters. The hit ratio's minimum effect is 2 points here (5 by default). Every output must equal the reference's.
/// </summary>
public sealed class PrefetchCanaryTests(PrefetchCanaryTests.PrefetchCanaryFixture fixture, ITestOutputHelper output)
    : IClassFixture<PrefetchCanaryTests.PrefetchCanaryFixture>
{
    public sealed class PrefetchCanaryFixture : ControlFixture
    {
        public const int Lookahead = 3;

        public PrefetchCanaryFixture()
            : base(2)
        {
        }

        protected override void Configure(MoeSiloOptions options)
        {
            base.Configure(options);
            options.DefaultTier = Tier.Warm;
            options.HotBudgetBytes = 4 * ExpertHotBytes;
            options.PrefetchLookahead = Lookahead;
            options.Control.Canary = options.Control.Canary with { Intervals = 4, MinIntervals = 3, MinHitRatio = 0.02 };
        }

        protected override void ConfigureSilo(ISiloBuilder siloBuilder)
        {
            base.ConfigureSilo(siloBuilder);
            siloBuilder.Services.Configure<PrefetchControlOptions>(o => o.SettingsRefreshInterval = TimeSpan.FromMilliseconds(100));
        }
    }

    const int CanaryRank = 1, ControlRank = 0;

    ICanaryGrain Canary => fixture.Client.GetGrain<ICanaryGrain>(ClusterFixture.ModelName);

    IPrefetchControllerGrain Prefetch => fixture.Client.GetGrain<IPrefetchControllerGrain>(ClusterFixture.ModelName);

    RouterPrefetchSettings RouterSettings(int rank) =>
        fixture.Cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<ModelHost>()).Zip(fixture.Cluster.Silos)
            .Single(p => p.First.Rank == rank).Second.ServiceProvider.GetRequiredService<PrefetchSettingsCache>().Current;

    async Task RefreshRoutersAsync()
    {
        foreach (var silo in fixture.Cluster.Silos) await silo.ServiceProvider.GetRequiredService<PrefetchSettingsCache>().RefreshAsync();
    }

    [Fact]
    public async Task PrefetchOffWhereItHelpsIsRolledBackOnTheCanaryRankOnly()
    {
        for (int round = 0; round < 2; round++) await fixture.ServeRoundAsync(round);
        const int Cluster = PrefetchCanaryFixture.Lookahead;
        Assert.Equal(Cluster, (await Prefetch.GetSettingsAsync()).Lookahead);
        CanaryStatus started = await Canary.StartAsync(new CanaryRequest
        {
            Prefetch = new PrefetchSettingsChange { Lookahead = 0 },
            Metrics = ["hit_ratio", "stall_s_per_1k_calls"],
            By = "test",
            Reason = "prefetching off",
        });
        CanaryTrialView trial = Assert.IsType<CanaryTrialView>(started.Trial);
        Assert.Equal(CanaryKinds.Prefetch, trial.Kind);
        Assert.Equal([CanaryRank], trial.CanaryRanks);
        Assert.Empty(await Canary.GetHeldRanksAsync());
        await RefreshRoutersAsync();
        Assert.Equal(0, RouterSettings(CanaryRank).Lookahead);
        Assert.Equal(Cluster, RouterSettings(ControlRank).Lookahead);
        Assert.Equal(0, (await Prefetch.GetRankSettingsAsync(CanaryRank)).Lookahead);
        Assert.Equal(Cluster, (await Prefetch.GetRankSettingsAsync(ControlRank)).Lookahead);

        CanaryStatus status = started;
        for (int i = 0; i < started.Intervals && status.Trial is not null; i++)
        {
            for (int round = 0; round < 2; round++) await fixture.ServeRoundAsync(10 + i * 2 + round);
            status = await Canary.TickAsync();
            CanaryTrialView shown = status.Trial ?? status.Recent[0];
            output.WriteLine($"interval {i + 1}: {shown.Verdict}: {shown.Judgement}");
        }
        Assert.Null(status.Trial);
        CanaryTrialView ended = Assert.Single(status.Recent, t => t.Id == trial.Id);
        Assert.Equal("rolled back", ended.Verdict);

        foreach (CanaryMetricView f in ended.Figures) output.WriteLine($"{f.Metric}: canary {f.CanaryMedian:0.###} control {f.ControlMedian:0.###} harm {f.Harm:0.###} threshold {f.Threshold:0.###}");
        Assert.Contains(ended.Figures, f => f.Harm > f.Threshold);

        // The canary rank prefetches with the cluster's settings again; the cluster's never changed.
        await RefreshRoutersAsync();
        Assert.Equal(Cluster, RouterSettings(CanaryRank).Lookahead);
        Assert.Equal(Cluster, (await Prefetch.GetSettingsAsync()).Lookahead);
        ControlDecisionRecord[] log = await fixture.Log.GetDecisionsAsync(50, "canary");
        Assert.Contains(log, d => d.Rank == CanaryRank && d.Change.StartsWith($"canary trial {trial.Id} rolled back: the cluster's prefetch settings again", StringComparison.Ordinal));
        await fixture.ServeRoundAsync(30);
    }
}
