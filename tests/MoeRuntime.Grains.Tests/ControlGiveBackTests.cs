using MoeRuntime.Control.Latency;
using Xunit.Abstractions;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Tests;

/// <summary>Targets nothing can miss, and a quarter of the budget given back per interval that holds with margin.</summary>
public sealed class GivingBackFixture : ControlFixture
{
    protected override LatencyControllerOptions ConfigureLatency(LatencyControllerOptions latency) =>
        latency with { TargetP95InterTokenSeconds = 100, TargetP95TimeToFirstTokenSeconds = 100, ShrinkStep = 0.25 };
}

/// <summary>
/// Giving memory back frees it: while latency holds with margin the latency controller shrinks its hot allowance, and
/// the rank's hot limit (the TierSet's hot budget) follows it, so the store releases the hot copies over it instead of
/// keeping them as transient copies up to the configured budget. A pin to hot lifts the limit back to the budget.
/// </summary>
public sealed class ControlGiveBackTests(GivingBackFixture fixture, ITestOutputHelper output) : IClassFixture<GivingBackFixture>
{
    [Fact]
    public async Task HeldHotMemoryFollowsTheShrinkingAllowanceAndOutputsStayTheReferences()
    {
        long budget = fixture.HotBudget, expert = fixture.ExpertHotBytes;
        await fixture.ServeRoundAsync(0);
        // Calls to cold experts bring them hot for the call, and such copies stay while the limit has room.
        long heldBefore = (await fixture.TierSet.GetAsync()).HotBytesUsed;
        Assert.True(heldBefore > 4 * expert, $"held {heldBefore} bytes before the first interval");
        long release = (long)Math.Ceiling(0.25 * budget);
        var limits = new List<long> { budget };
        for (int round = 1; round <= 8 && limits[^1] > expert; round++)
        {
            await fixture.WaitForLatencyAsync();
            ControllerStatus status = await fixture.Controller.TickAsync();
            Assert.Null(status.LastError);
            RankControlStatus rank = Assert.Single(status.Ranks);
            TierSetView view = await fixture.TierSet.GetAsync();
            output.WriteLine($"interval {round}: allowance {rank.HotAllowanceBytes}, assigned {rank.HotAssignedBytes}, limit {view.HotBudgetBytes}, held {view.HotBytesUsed} of budget {rank.HotBudgetBytes}");
            Assert.Equal(budget, rank.HotBudgetBytes);
            Assert.Equal(view.HotBudgetBytes, rank.HotLimitBytes);
            // The limit is the allowance (or what is assigned, if more) plus room for one call's copy, released a step
            // (a quarter of the budget here) per interval at most, and it is enforced.
            long wanted = Math.Min(budget, Math.Max(rank.HotAllowanceBytes!.Value, rank.HotAssignedBytes) + expert);
            Assert.Equal(Math.Max(wanted, limits[^1] - release), view.HotBudgetBytes);
            Assert.InRange(view.HotBytesUsed, 0, view.HotBudgetBytes);
            limits.Add(view.HotBudgetBytes);
            await fixture.ServeRoundAsync(round);
            Assert.InRange((await fixture.TierSet.GetAsync()).HotBytesUsed, 0, view.HotBudgetBytes);
        }
        // Latency never goes over target here, so the limit only comes down, to the room for one copy.
        Assert.True(limits.Zip(limits.Skip(1)).All(p => p.Second <= p.First), string.Join(", ", limits));
        Assert.Equal(expert, limits[^1]);

        ControlDecisionRecord[] changes = (await fixture.Log.GetDecisionsAsync(2000, "latency")).Where(d => d.Change.StartsWith("hot limit")).ToArray();
        Assert.NotEmpty(changes);
        Assert.All(changes, d => Assert.Equal(("applied", 0), (d.Outcome, d.Rank)));
        Assert.All(changes, d => Assert.NotNull(d.Version));

        // A limit is never written over the ceiling, and a refused write changes nothing.
        TierSetView beforeRefusal = await fixture.TierSet.GetAsync();
        var overCeiling = await Assert.ThrowsAsync<MoeRequestException>(() => fixture.TierSet.UpdateAsync(new TierSetUpdate
        {
            HotBudgetBytes = budget + 1,
            HotBudgetIsLimit = true,
            ChangedBy = "test",
            Reason = "a limit over the ceiling",
        }));
        Assert.Contains("over the ceiling", overCeiling.Message);
        await Assert.ThrowsAsync<MoeRequestException>(() => fixture.TierSet.UpdateAsync(new TierSetUpdate { HotBudgetIsLimit = true, ChangedBy = "test", Reason = "a limit without bytes" }));
        TierSetView afterRefusal = await fixture.TierSet.GetAsync();
        Assert.Equal((beforeRefusal.Version, beforeRefusal.HotBudgetBytes), (afterRefusal.Version, afterRefusal.HotBudgetBytes));
        Assert.Equal(budget, (await fixture.TierSet.GetControlStateAsync()).HotCeilingBytes);

        // An operator's pin to hot must fit the budget, not the limit: the pin lifts the limit back.
        string pinned = $"{ClusterFixture.ModelName}/0/1";
        await fixture.Controller.PinAsync(pinned, "hot", "test", "wants it on the device");
        try
        {
            TierSetView view = await fixture.TierSet.GetAsync();
            Assert.Equal(("hot", budget), (view.Tiers[pinned], view.HotBudgetBytes));
            await fixture.ServeRoundAsync(11);
        }
        finally
        {
            await fixture.Controller.PinAsync(pinned, null, "test", "done");
        }
    }
}
