using MoeRuntime.Grains.Hosting;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Canary trials on a two-rank cluster, judged from the ranks' real tier-store counters: rank 1 (the highest) carries
/// the change, rank 0 is the control. Each rank's hot budget holds <see cref="CanaryFixture.HotExperts"/> experts plus
/// one slot for a transient copy, so an expert that is not assigned hot is mostly fetched again at its next call and
/// the hit ratio shows which experts are hot. Requests run throughout and every output must equal the reference's.
/// </summary>
public sealed class CanaryTests(CanaryTests.CanaryFixture fixture, ITestOutputHelper output) : IClassFixture<CanaryTests.CanaryFixture>
{
    public sealed class CanaryFixture : ControlFixture
    {
        public const int HotExperts = 6;

        public CanaryFixture()
            : base(2)
        {
        }

        protected override void Configure(MoeSiloOptions options)
        {
            base.Configure(options);
            options.HotBudgetBytes = (HotExperts + 1) * ExpertHotBytes;
            options.Control.Canary = options.Control.Canary with { Intervals = 4, MinIntervals = 3 };
            // Each expert held by its owner alone: a hedged call (a cold fetch on the owner outlasting the hedge delay)
            // would also register the expert on the router's rank, and the tests choose only experts one rank holds.
            options.ExpertCallHedgeAfter = TimeSpan.Zero;
        }
    }

    const int CanaryRank = 1, ControlRank = 0;
    static readonly string[] Metrics = ["hit_ratio", "stall_s_per_1k_calls"];

    ICanaryGrain Canary => fixture.Client.GetGrain<ICanaryGrain>(ClusterFixture.ModelName);

    ITierSetGrain TierSet(int rank) => fixture.Client.GetGrain<ITierSetGrain>($"{ClusterFixture.ModelName}/{rank}");

    [Fact]
    public async Task DemotingTheHottestExpertsIsRolledBackWithinTheConfiguredIntervals()
    {
        Dictionary<int, Experts> experts = await RankExpertsAsync();
        // Each rank starts with its hottest experts hot (the ranks hold different experts).
        foreach (int rank in Ranks) await SetAsync(rank, experts[rank].Hottest, "hot", experts[rank].Coldest, "cold");
        long before = (await TierSet(CanaryRank).GetAsync()).Version;

        // The harmful change: every rank's hottest experts demoted, their slots given to experts the rank hardly calls.
        Dictionary<string, string> change = Change(experts, hottest: "cold", coldest: "hot");
        CanaryStatus started = await Canary.StartAsync(new CanaryRequest { Tiers = change, Metrics = Metrics, By = "test", Reason = "demote the hottest experts" });
        CanaryTrialView trial = Assert.IsType<CanaryTrialView>(started.Trial);
        await RefreshAsync();
        Assert.Equal([CanaryRank], trial.CanaryRanks);
        Assert.Equal([ControlRank], trial.ControlRanks);
        int[] held = await Canary.GetHeldRanksAsync();
        Assert.Equal([CanaryRank], held);
        Assert.All(experts[CanaryRank].Hottest, e => Assert.Equal("cold", TierOf(e, CanaryRank)));
        Assert.All(experts[ControlRank].Hottest, e => Assert.Equal("hot", TierOf(e, ControlRank)));

        CanaryStatus status = await RunTrialAsync(started.Intervals);
        CanaryTrialView ended = Assert.Single(status.Recent, t => t.Id == trial.Id);
        Assert.Equal("rolled back", ended.Verdict);
        Assert.True(ended.Intervals <= started.Intervals, $"rolled back after {ended.Intervals} intervals, the trial has {started.Intervals}");
        CanaryMetricView hit = Assert.Single(ended.Figures, f => f.Metric == "hit_ratio");
        Assert.True(hit.Harm > hit.Threshold, $"hit ratio canary {hit.CanaryMedian} vs control {hit.ControlMedian}, threshold {hit.Threshold}");

        // The previous version's tiers are back on the canary rank; the control rank never carried the change.
        TierSetView after = await TierSet(CanaryRank).GetAsync();
        await RefreshAsync();
        Assert.True(after.Version > before);
        Assert.All(experts[CanaryRank].Hottest, e => Assert.Equal("hot", after.Tiers[e]));
        Assert.All(experts[CanaryRank].Coldest, e => Assert.Equal("cold", after.Tiers[e]));
        Assert.Equal("canary:rollback", after.ChangedBy);
        Assert.All(experts[ControlRank].Hottest, e => Assert.Equal("hot", TierOf(e, ControlRank)));
        Assert.Empty(await Canary.GetHeldRanksAsync());

        ControlDecisionRecord[] log = await fixture.Log.GetDecisionsAsync(50, "canary");
        ControlDecisionRecord rolledBack = Assert.Single(log, d => d.Change.StartsWith($"canary trial {trial.Id} rolled back", StringComparison.Ordinal));
        Assert.Equal(CanaryRank, rolledBack.Rank);
        Assert.Equal(after.Version, rolledBack.Version);
        ControlDecisionRecord verdict = Assert.Single(log, d => d.Change == $"canary trial {trial.Id} interval {ended.Intervals}: roll back");
        Assert.Equal(hit.Harm, verdict.Inputs["hit_ratio.harm"], 9);
        Assert.Contains("hit_ratio canary", verdict.Reason);
    }

    [Fact]
    public async Task PromotingTheHottestExpertsIsPromotedToEveryRank()
    {
        Dictionary<int, Experts> experts = await RankExpertsAsync();
        // Each rank starts with experts it hardly calls hot, its hottest cold.
        foreach (int rank in Ranks) await SetAsync(rank, experts[rank].Coldest, "hot", experts[rank].Hottest, "cold");

        Dictionary<string, string> change = Change(experts, hottest: "hot", coldest: "cold");
        CanaryStatus started = await Canary.StartAsync(new CanaryRequest { Tiers = change, Metrics = Metrics, By = "test", Reason = "promote the hottest experts" });
        long trialId = started.Trial!.Id;
        await RefreshAsync();
        Assert.All(experts[CanaryRank].Hottest, e => Assert.Equal("hot", TierOf(e, CanaryRank)));
        Assert.All(experts[ControlRank].Hottest, e => Assert.Equal("cold", TierOf(e, ControlRank)));

        CanaryStatus status = await RunTrialAsync(started.Intervals);
        CanaryTrialView ended = Assert.Single(status.Recent, t => t.Id == trialId);
        Assert.Equal("promoted", ended.Verdict);
        Assert.Equal(started.Intervals, ended.Intervals);
        CanaryMetricView hit = Assert.Single(ended.Figures, f => f.Metric == "hit_ratio");
        Assert.True(hit.Harm < 0, $"the canary's hit ratio {hit.CanaryMedian} is not above the control's {hit.ControlMedian}");

        TierSetView control = await TierSet(ControlRank).GetAsync();
        Assert.All(experts[ControlRank].Hottest, e => Assert.Equal("hot", control.Tiers[e]));
        Assert.All(experts[ControlRank].Coldest, e => Assert.Equal("cold", control.Tiers[e]));
        Assert.Equal("canary:promote", control.ChangedBy);
        ControlDecisionRecord[] log = await fixture.Log.GetDecisionsAsync(50, "canary");
        ControlDecisionRecord promoted = Assert.Single(log, d => d.Change.StartsWith($"canary trial {trialId} promoted", StringComparison.Ordinal));
        Assert.Equal(ControlRank, promoted.Rank);
        Assert.Equal(control.Version, promoted.Version);
    }

    [Fact]
    public async Task BadRequestsAreRefusedNamingWhatIsWrong()
    {
        var e = await Assert.ThrowsAsync<MoeRequestException>(() => Canary.StartAsync(new CanaryRequest { Tiers = new() { ["default/0/0"] = "lukewarm" }, By = "test", Reason = "r" }));
        Assert.Contains("lukewarm", e.Message);
        e = await Assert.ThrowsAsync<MoeRequestException>(() => Canary.StartAsync(new CanaryRequest { Tiers = new() { ["default/0/0"] = "hot" }, Metrics = ["p99"], By = "test", Reason = "r" }));
        Assert.Contains("'p99' is not a canary metric", e.Message);
        e = await Assert.ThrowsAsync<MoeRequestException>(() => Canary.StartAsync(new CanaryRequest { By = "test", Reason = "r" }));
        Assert.Contains("needs a change", e.Message);
        e = await Assert.ThrowsAsync<MoeRequestException>(() => Canary.EndAsync(promote: false, "test", "cancel"));
        Assert.Contains("no canary trial is under way", e.Message);
    }

    /// <summary>Serves and judges interval after interval until the trial ends (at most its configured intervals); every output is checked.</summary>
    async Task<CanaryStatus> RunTrialAsync(int intervals)
    {
        CanaryStatus status = await Canary.GetStatusAsync();
        for (int i = 0; i < intervals && status.Trial is not null; i++)
        {
            for (int round = 0; round < 2; round++) await fixture.ServeRoundAsync(i * 2 + round);
            status = await Canary.TickAsync();
            CanaryTrialView shown = status.Trial ?? status.Recent[0];
            output.WriteLine($"interval {i + 1}: {shown.Verdict}: {shown.Judgement}");
        }
        Assert.Null(status.Trial);
        return status;
    }

    static readonly int[] Ranks = [ControlRank, CanaryRank];

    /// <summary>A rank's most used experts (as many as its hot tier holds) and as many it calls least.</summary>
    public sealed record Experts(string[] Hottest, string[] Coldest);

    /// <summary>
    /// Each rank's experts by use after a warm-up from every expert cold (which also gives both ranks counters to
    /// difference). Only experts one rank alone holds are chosen: a replica on both would take a hot slot on each.
    /// </summary>
    async Task<Dictionary<int, Experts>> RankExpertsAsync()
    {
        if ((await Canary.GetStatusAsync()).Trial is not null) await Canary.EndAsync(promote: false, "test", "left by another test");
        foreach (int rank in Ranks) await SetAsync(rank, [], "hot", [], "cold");
        for (int round = 0; round < 2; round++) await fixture.ServeRoundAsync(round);
        Dictionary<int, TierControlState> states = [];
        foreach (int rank in Ranks) states[rank] = await TierSet(rank).GetControlStateAsync();
        var experts = new Dictionary<int, Experts>();
        foreach (int rank in Ranks)
        {
            HashSet<string> elsewhere = [.. states.Where(s => s.Key != rank).SelectMany(s => s.Value.Experts.Select(e => e.Expert))];
            ExpertControlState[] byUse = [.. states[rank].Experts.Where(e => !elsewhere.Contains(e.Expert))
                .OrderByDescending(e => e.Uses).ThenBy(e => e.Expert, StringComparer.Ordinal)];
            output.WriteLine($"rank {rank} uses: {string.Join(", ", byUse.Select(e => $"{e.Expert}:{e.Uses}"))}");
            Assert.True(byUse.Length >= 2 * CanaryFixture.HotExperts, $"rank {rank} holds {byUse.Length} experts");
            experts[rank] = new([.. byUse.Take(CanaryFixture.HotExperts).Select(e => e.Expert)], [.. byUse.TakeLast(CanaryFixture.HotExperts).Select(e => e.Expert)]);
        }
        return experts;
    }

    /// <summary>One change for every rank: each rank's hottest experts to one tier, its coldest to another (a rank moves only the experts it holds).</summary>
    static Dictionary<string, string> Change(Dictionary<int, Experts> experts, string hottest, string coldest)
    {
        var change = new Dictionary<string, string>();
        foreach (Experts e in experts.Values)
        {
            foreach (string key in e.Hottest) change[key] = hottest;
            foreach (string key in e.Coldest) change[key] = coldest;
        }
        return change;
    }

    readonly Dictionary<int, TierSetView> _views = [];

    string TierOf(string expert, int rank) => _views[rank].Tiers[expert];

    /// <summary>An operator's write: <paramref name="first"/> to one tier and <paramref name="second"/> to another, every other expert cold.</summary>
    async Task SetAsync(int rank, string[] first, string firstTier, string[] second, string secondTier)
    {
        TierSetView view = await TierSet(rank).GetAsync();
        var tiers = view.Tiers.Keys.ToDictionary(k => k, _ => "cold");
        foreach (string e in second.Where(tiers.ContainsKey)) tiers[e] = secondTier;
        foreach (string e in first.Where(tiers.ContainsKey)) tiers[e] = firstTier;
        await TierSet(rank).UpdateAsync(new TierSetUpdate { Tiers = tiers, ChangedBy = "test", Reason = "start of a canary test" });
        await RefreshAsync();
    }

    async Task RefreshAsync()
    {
        foreach (int rank in new[] { ControlRank, CanaryRank }) _views[rank] = await TierSet(rank).GetAsync();
    }
}
