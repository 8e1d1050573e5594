using Orleans.Core.Internal;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Model.Sampling;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// One rank whose hot tier holds four experts, prefetching three layers ahead: most prefetched experts are evicted
/// before use, so the controller has waste to react to. Its timer is left to the tests (one tick per hour).
/// </summary>
public class WastefulPrefetchFixture() : ClusterFixture(1)
{
    public const long HotBudget = 12L << 20;

    protected virtual bool DryRun => false;
    protected virtual TimeSpan Interval => TimeSpan.FromHours(1);

    protected override void Configure(MoeSiloOptions options)
    {
        options.HotBudgetBytes = HotBudget;
        options.PrefetchLookahead = 3;
    }

    protected override void ConfigureSilo(ISiloBuilder siloBuilder) =>
        siloBuilder.Services.Configure<PrefetchControlOptions>(o =>
        {
            o.DryRun = DryRun;
            o.Interval = Interval;
            o.SettingsRefreshInterval = TimeSpan.FromMilliseconds(100);
        });
}

/// <summary>The same rank with the controller in dry run, its timer every second.</summary>
public sealed class DryRunPrefetchFixture : WastefulPrefetchFixture
{
    protected override bool DryRun => true;
    protected override TimeSpan Interval => TimeSpan.FromSeconds(1);
}

static class PrefetchRuns
{
    const string Model = ClusterFixture.ModelName;
    static readonly string[] Prompts = ["Prefetching guesses the next layers' experts", "b", "The controller"];
    const int MaxTokens = 12;

    public static IPrefetchControllerGrain Controller(ClusterFixture fixture) => fixture.Client.GetGrain<IPrefetchControllerGrain>(Model);

    /// <summary>Every rank's router takes the controller's current settings now.</summary>
    public static async Task<long> RefreshRoutersAsync(ClusterFixture fixture)
    {
        long version = (await Controller(fixture).GetSettingsAsync()).Version;
        foreach (var silo in fixture.Cluster.Silos)
        {
            PrefetchSettingsCache cache = silo.ServiceProvider.GetRequiredService<PrefetchSettingsCache>();
            await cache.RefreshAsync();
            Assert.Equal(version, cache.Current.Version);
        }
        return version;
    }

    /// <summary>Generates the prompts one after another, checks each against the reference, and returns the hints sent per decode token and per expert call.</summary>
    public static async Task<Run> GenerateAsync(ClusterFixture fixture)
    {
        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(Model);
        RouterStatus before = await router.GetStatusAsync();
        int tokens = 0;
        foreach (string prompt in Prompts)
        {
            GenerateResponse answer = await router.GenerateAsync(new GenerateRequest
            {
                Prompt = prompt,
                Sampling = SamplingParameters.Greedy(MaxTokens) with { StopTokenIds = [] },
                IncludeLogits = true,
            });
            ServingAssertions.MatchesReference(fixture.ReferenceRun(prompt, SamplingOptions.Greedy with { MaxTokens = MaxTokens, StopTokenIds = [] }), answer);
            tokens += answer.TokenIds.Length;
        }
        RouterStatus after = await router.GetStatusAsync();
        return new Run(after.PrefetchHints - before.PrefetchHints, tokens);
    }

    public static async Task<RankPrefetchStats> StatsAsync(ClusterFixture fixture, int rank = 0) =>
        await fixture.Client.GetGrain<IPrefetchStatsGrain>(GrainKeys.Rank(Model, rank)).GetAsync();

    public static double WasteShare(RankPrefetchStats before, RankPrefetchStats after)
    {
        double used = after.Layers.Sum(l => l.UsedBytes) - before.Layers.Sum(l => l.UsedBytes);
        double wasted = after.Layers.Sum(l => l.WastedBytes) - before.Layers.Sum(l => l.WastedBytes);
        return used + wasted > 0 ? wasted / (used + wasted) : 0;
    }

    public sealed record Run(long Hints, int Tokens)
    {
        public double HintsPerToken => Tokens == 0 ? 0 : Hints / (double)Tokens;
    }
}

public sealed class PrefetchControlTests(WastefulPrefetchFixture fixture, ITestOutputHelper output) : IClassFixture<WastefulPrefetchFixture>
{
    IPrefetchControllerGrain Controller => PrefetchRuns.Controller(fixture);

    [Fact]
    public async Task WastefulPrefetchingMakesTheControllerPrefetchLessAndOutputsStayTheReferences()
    {
        await Controller.TickAsync(); // whatever ran before this test is the previous interval
        PrefetchSettingsView start = await Controller.SetAsync(new PrefetchSettingsChange { Lookahead = 3, Thresholds = Enumerable.Range(0, 4).ToDictionary(l => l, _ => 0.0) }, "test", "wasteful start");
        await PrefetchRuns.RefreshRoutersAsync(fixture);

        RankPrefetchStats s0 = await PrefetchRuns.StatsAsync(fixture);
        PrefetchRuns.Run before = await PrefetchRuns.GenerateAsync(fixture);
        RankPrefetchStats s1 = await PrefetchRuns.StatsAsync(fixture);
        ControlDecisionRecord? decision = await Controller.TickAsync();

        Assert.NotNull(decision);
        Assert.Equal("prefetch", decision.Controller);
        Assert.Null(decision.Rank);
        Assert.Equal("applied", decision.Outcome);
        Assert.True(decision.Inputs["waste_share"] > 0.5, $"waste share {decision.Inputs["waste_share"]:P0}");
        Assert.Equal(decision.Inputs["issued"], s1.Layers.Sum(l => l.Issued) - s0.Layers.Sum(l => l.Issued));
        PrefetchSettingsView tuned = await Controller.GetSettingsAsync();
        Assert.Equal(start.Version + 1, tuned.Version);
        Assert.Equal(decision.Version, tuned.Version);
        Assert.True(tuned.Lookahead < start.Lookahead || tuned.Thresholds.Zip(start.Thresholds).Any(t => t.First > t.Second), decision.Change);
        Assert.Equal(2, tuned.Lookahead);
        PrefetchControlStatus status = await Controller.GetStatusAsync();
        Assert.Equal((decision.At, decision.Change, decision.Version), (status.LastDecision!.At, status.LastDecision.Change, status.LastDecision.Version));
        Assert.False(status.DryRun);

        // A second interval at the tuned settings: fewer hints, less waste, same outputs.
        await PrefetchRuns.RefreshRoutersAsync(fixture);
        PrefetchRuns.Run after = await PrefetchRuns.GenerateAsync(fixture);
        RankPrefetchStats s2 = await PrefetchRuns.StatsAsync(fixture);
        ControlDecisionRecord? second = await Controller.TickAsync();
        Assert.NotNull(second);
        output.WriteLine($"before: lookahead {start.Lookahead}, {before.HintsPerToken:F1} hints/token, waste {PrefetchRuns.WasteShare(s0, s1):P0}; decision: {decision.Change} ({decision.Reason})");
        output.WriteLine($"after:  lookahead {tuned.Lookahead}, {after.HintsPerToken:F1} hints/token, waste {PrefetchRuns.WasteShare(s1, s2):P0}; decision: {second.Change} ({second.Reason})");
        Assert.True(after.HintsPerToken < before.HintsPerToken, $"{after.HintsPerToken} vs {before.HintsPerToken} hints per token");
    }

    [Fact]
    public async Task ThresholdsHintFewerExpertsAndLookaheadZeroNoneWithOutputsUnchanged()
    {
        var zero = Enumerable.Range(0, 4).ToDictionary(l => l, _ => 0.0);
        await Controller.SetAsync(new PrefetchSettingsChange { Lookahead = 1, Thresholds = zero }, "test", "every predicted expert");
        await PrefetchRuns.RefreshRoutersAsync(fixture);
        PrefetchRuns.Run all = await PrefetchRuns.GenerateAsync(fixture);

        PrefetchSettingsView sure = await Controller.SetAsync(new PrefetchSettingsChange { Thresholds = zero.ToDictionary(t => t.Key, _ => 0.6) }, "test", "only sure experts");
        Assert.Equal(1, sure.Lookahead);
        Assert.All(sure.Thresholds, t => Assert.Equal(0.6, t));
        await PrefetchRuns.RefreshRoutersAsync(fixture);
        PrefetchRuns.Run fewer = await PrefetchRuns.GenerateAsync(fixture);

        await Controller.SetAsync(new PrefetchSettingsChange { Lookahead = 0 }, "test", "no prefetch");
        await PrefetchRuns.RefreshRoutersAsync(fixture);
        PrefetchRuns.Run none = await PrefetchRuns.GenerateAsync(fixture);

        output.WriteLine($"hints per token: threshold 0 {all.HintsPerToken:F2}, threshold 0.6 {fewer.HintsPerToken:F2}, lookahead 0 {none.HintsPerToken:F2}");
        Assert.True(all.Hints > 0);
        Assert.True(fewer.Hints < all.Hints, $"{fewer.Hints} vs {all.Hints} hints");
        Assert.Equal(0, none.Hints);
        PrefetchControlStatus status = await Controller.GetStatusAsync();
        Assert.Equal("operator", status.LastDecision!.Controller);
        Assert.Contains("lookahead 1 → 0", status.LastDecision.Change);
        Assert.Equal(status.Settings.Version, status.LastDecision.Version);
    }

    [Fact]
    public async Task SettingsSurviveTheControllerMoving()
    {
        PrefetchSettingsView set = await Controller.SetAsync(
            new PrefetchSettingsChange { Lookahead = 2, Thresholds = new() { [1] = 0.3, [3] = 0.45 } }, "test", "kept across a move");
        Assert.Equal((2, 0.3, 0.45), (set.Lookahead, set.Thresholds[1], set.Thresholds[3]));
        // An interval first (it may tune the settings further, from what earlier tests left in the counters).
        await Controller.TickAsync();
        PrefetchSettingsView before = await Controller.GetSettingsAsync();
        await Controller.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        // A new activation has run no interval yet.
        await Eventually.Async(() => Controller.GetStatusAsync(), s => s.Ticks == 0);

        PrefetchSettingsView resumed = await Controller.GetSettingsAsync();
        Assert.Equal((before.Version, before.Lookahead, before.ChangedBy, before.Reason, before.ChangedAt),
            (resumed.Version, resumed.Lookahead, resumed.ChangedBy, resumed.Reason, resumed.ChangedAt));
        Assert.Equal(before.Thresholds, resumed.Thresholds);
        Assert.Equal(before.Version, await PrefetchRuns.RefreshRoutersAsync(fixture));
    }

    [Fact]
    public async Task OperatorChangesAreChecked()
    {
        async Task RefusedAsync(PrefetchSettingsChange change, string words)
        {
            var error = await Assert.ThrowsAsync<MoeRequestException>(() => Controller.SetAsync(change, "test", "bad"));
            Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
            Assert.Contains(words, error.Message);
        }
        await RefusedAsync(new() { Lookahead = -1 }, "lookahead");
        await RefusedAsync(new() { Thresholds = new() { [4] = 0.5 } }, "layer 4 does not exist");
        await RefusedAsync(new() { Thresholds = new() { [1] = 1.5 } }, "within [0, 1]");
        await Assert.ThrowsAsync<MoeRequestException>(() => Controller.SetAsync(new() { Lookahead = 1 }, "test", " "));
    }
}

public sealed class PrefetchDryRunTests(DryRunPrefetchFixture fixture, ITestOutputHelper output) : IClassFixture<DryRunPrefetchFixture>
{
    [Fact]
    public async Task DryRunOnlyProposesOnItsTimer()
    {
        IPrefetchControllerGrain controller = PrefetchRuns.Controller(fixture);
        PrefetchSettingsView start = await controller.GetSettingsAsync();
        Assert.Equal(3, start.Lookahead);
        await PrefetchRuns.RefreshRoutersAsync(fixture);
        PrefetchRuns.Run run = await PrefetchRuns.GenerateAsync(fixture);
        Assert.True(run.Hints > 0);

        // The timer (every second) finds the waste and proposes; nothing changes.
        PrefetchControlStatus status = await controller.GetStatusAsync();
        for (int i = 0; i < 100 && status.Proposed is null; i++)
        {
            await Task.Delay(100);
            status = await controller.GetStatusAsync();
        }
        Assert.True(status.DryRun);
        Assert.NotNull(status.Proposed);
        Assert.NotNull(status.LastDecision);
        Assert.Equal("proposed", status.LastDecision.Outcome);
        Assert.Null(status.LastDecision.Version);
        Assert.True(status.Proposed.Lookahead < start.Lookahead || status.Proposed.Thresholds.Any(t => t > 0), status.LastDecision.Change);
        Assert.True(status.Ticks > 0);
        output.WriteLine($"proposed: {status.LastDecision.Change} ({status.LastDecision.Reason})");

        PrefetchSettingsView now = await controller.GetSettingsAsync();
        Assert.Equal(start.Version, now.Version);
        Assert.Equal(start.Lookahead, now.Lookahead);
        Assert.Equal(start.Thresholds, now.Thresholds);
        Assert.Equal(start.Version, await PrefetchRuns.RefreshRoutersAsync(fixture));
        PrefetchRuns.Run again = await PrefetchRuns.GenerateAsync(fixture);
        Assert.True(again.Hints > 0);
    }
}
