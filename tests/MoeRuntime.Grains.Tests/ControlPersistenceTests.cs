using MoeRuntime.Grains.Control;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Tiers;
using Orleans.Core.Internal;

namespace MoeRuntime.Grains.Tests;

/// <summary>One rank with the controllers off, so only the tests write TierSets and decisions.</summary>
public sealed class QuietControlFixture() : ClusterFixture(1)
{
    protected override void Configure(MoeSiloOptions options) => options.Control.Enabled = false;
}

/// <summary>TierSet versions and the decision log are kept in the control storage: a new activation keeps them.</summary>
public sealed class ControlPersistenceTests(QuietControlFixture fixture) : IClassFixture<QuietControlFixture>
{
    [Fact]
    public async Task ATierSetGrainActivatedAgainKeepsItsVersionsAndRestoresTheNewestTiersAndBudgets()
    {
        ITierSetGrain tierSet = fixture.Client.GetGrain<ITierSetGrain>($"{ClusterFixture.ModelName}/0");
        TierSetView first = await tierSet.GetAsync();
        await tierSet.UpdateAsync(new TierSetUpdate { Tiers = new() { ["default/2/5"] = "cold" }, ChangedBy = "test", Reason = "keep 2/5 on disk" });
        TierSetView operatorBudget = await tierSet.UpdateAsync(new TierSetUpdate
        {
            Tiers = new() { ["default/1/1"] = "hot" },
            HotBudgetBytes = 20L << 20,
            WarmBudgetBytes = 48L << 20,
            ChangedBy = "test",
            Reason = "operator budgets",
        });

        await tierSet.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        TierSetView[] history = await Eventually.Async(() => tierSet.GetHistoryAsync(TierSetGrain.KeptVersions), h => h.Length > 0 && h[0].Version == operatorBudget.Version + 1);

        TierSetView restored = history[0];
        Assert.Contains($"restored v{operatorBudget.Version} (test: operator budgets)", restored.Reason);
        Assert.Equal((20L << 20, 48L << 20), (restored.HotBudgetBytes, restored.WarmBudgetBytes));
        Assert.Equal("cold", restored.Tiers["default/2/5"]);
        Assert.Equal("hot", restored.Tiers["default/1/1"]);
        Assert.Equal(
            [(operatorBudget.Version, "operator budgets"), (operatorBudget.Version - 1, "keep 2/5 on disk"), (first.Version, first.Reason)],
            history.Skip(1).Take(3).Select(v => (v.Version, v.Reason)));
        Assert.Equal("cold", (await fixture.Client.GetGrain<IExpertGrain>("default/2/5").GetInfoAsync()).Tier);

        // It goes on from there.
        TierSetView next = await tierSet.UpdateAsync(new TierSetUpdate { Tiers = new() { ["default/2/5"] = "warm" }, ChangedBy = "test", Reason = "back", ExpectedVersion = restored.Version });
        Assert.Equal(restored.Version + 1, next.Version);
    }

    [Fact]
    public async Task TheDecisionLogActivatedAgainKeepsItsDecisionsAndNumberingWithinItsBound()
    {
        IControlDecisionLogGrain log = fixture.Client.GetGrain<IControlDecisionLogGrain>("persisted-log");
        await log.RecordAsync([Decision("first"), Decision("second")]);
        ControlDecisionRecord[] before = await log.GetDecisionsAsync(10, null);
        Assert.Equal([(2L, "second"), (1L, "first")], before.Select(d => (d.Sequence, d.Change)));

        await log.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        await log.RecordAsync([Decision("third")]);
        ControlDecisionRecord[] after = await log.GetDecisionsAsync(10, null);
        Assert.Equal([(3L, "third"), (2L, "second"), (1L, "first")], after.Select(d => (d.Sequence, d.Change)));
        Assert.Equal(before[0].Inputs, after[1].Inputs);

        await log.RecordAsync([.. Enumerable.Range(0, ControlDecisionLogGrain.Capacity).Select(i => Decision($"bulk {i}"))]);
        await log.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        ControlDecisionRecord[] bounded = await Eventually.Async(() => log.GetDecisionsAsync(int.MaxValue, null), d => d.Length == ControlDecisionLogGrain.Capacity);
        Assert.Equal(ControlDecisionLogGrain.Capacity + 3, bounded[0].Sequence);
        Assert.Equal(4, bounded[^1].Sequence);
    }

    static ControlDecisionRecord Decision(string change) => new()
    {
        At = DateTimeOffset.UnixEpoch,
        Controller = "operator",
        Rank = 0,
        Inputs = new() { ["p95_itl_s"] = 0.25 },
        Change = change,
        Reason = "test",
        Outcome = "applied",
    };
}
