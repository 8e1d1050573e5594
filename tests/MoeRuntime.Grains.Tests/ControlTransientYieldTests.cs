namespace MoeRuntime.Grains.Tests;

/// <summary>
/// The transient-yield rule in the live loop: the rank's tier store counts hits on transient copies, the TierSet grain
/// carries them in its store statistics, and the latency controller's interval decision weighs them.
/// </summary>
public sealed class ControlTransientYieldTests(ControlFixture fixture) : IClassFixture<ControlFixture>
{
    [Fact]
    public async Task Hits_on_transient_copies_are_counted_carried_by_the_TierSet_and_weighed_by_the_latency_controller()
    {
        long since = (await fixture.Log.GetDecisionsAsync(1, null)).FirstOrDefault()?.Sequence ?? 0;
        // Nothing is assigned hot before the first interval: every hit of the first round is on a transient copy.
        await fixture.ServeRoundAsync(0);
        TierStoreStats first = await fixture.TierSet.GetStoreStatsAsync();
        Assert.True(first.TransientHits > 0, $"no transient hits counted ({first.Hits} hits)");
        Assert.True(first.TransientHits <= first.Hits, $"{first.TransientHits} transient hits of {first.Hits} hits");

        ControllerStatus status = await fixture.Controller.TickAsync();
        Assert.Null(status.LastError);
        ControlDecisionRecord plan = Assert.Single(
            await fixture.Log.GetDecisionsAsync(2000, "latency"), d => d.Sequence > since && d.Inputs.ContainsKey("hot_allowance_bytes"));
        Assert.True(plan.Inputs.TryGetValue("transient_hits_per_mib", out double perMiB) && perMiB > 0,
            $"the latency controller's decision carries no transient yield: {string.Join(", ", plan.Inputs.Keys)}");

        // Counters are cumulative: a later round only adds.
        await fixture.ServeRoundAsync(1);
        TierStoreStats second = await fixture.TierSet.GetStoreStatsAsync();
        Assert.True(second.TransientHits >= first.TransientHits);
        Assert.True(second.Hits - second.TransientHits >= first.Hits - first.TransientHits);
    }
}
