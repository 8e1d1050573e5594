using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>The control loop on a live rank: used experts are promoted within the hot budget while requests keep flowing.</summary>
public sealed class ControlLoopTests(ControlFixture fixture, ITestOutputHelper output) : IClassFixture<ControlFixture>
{
    const int Rounds = 6;

    [Fact]
    public async Task UnderLoadTheControllersPromoteUsedExpertsWithinTheBudget()
    {
        ControllerStatus started = await fixture.Controller.GetStatusAsync();
        Assert.True(started.Enabled);
        Assert.True(started.Running, "a silo starts the controller's timer");

        var hitRatios = new List<double>();
        long hotBudget = fixture.HotBudget;
        for (int round = 0; round < Rounds; round++)
        {
            TierStoreStats before = await fixture.TierSet.GetStoreStatsAsync();
            // The interval acts on the earlier rounds' latency, while this round's requests run.
            if (round > 0) await fixture.WaitForLatencyAsync();
            Task serving = fixture.ServeRoundAsync(round);
            ControllerStatus status = await fixture.Controller.TickAsync();
            await serving;
            TierStoreStats after = await fixture.TierSet.GetStoreStatsAsync();
            long hits = after.Hits - before.Hits;
            long misses = after.MissesFromWarm + after.MissesFromCold - before.MissesFromWarm - before.MissesFromCold;
            double ratio = hits / (double)Math.Max(1, hits + misses);
            hitRatios.Add(ratio);

            TierSetView view = await fixture.TierSet.GetAsync();
            RankControlStatus rank = Assert.Single(status.Ranks);
            output.WriteLine($"round {round}: hit ratio {ratio:P1} ({hits} hits, {misses} misses); TierSet v{view.Version} by {view.ChangedBy}; " +
                $"{view.Tiers.Count(t => t.Value == "hot")} experts hot, hot {view.HotBytesUsed} of {view.HotBudgetBytes} bytes, assigned {rank.HotAssignedBytes}, " +
                $"allowance {rank.HotAllowanceBytes}; high water {after.HotHighWaterBytes}; last error {status.LastError ?? "none"}");
            Assert.Null(status.LastError);
            Assert.Equal(hotBudget, view.HotBudgetBytes);
            Assert.True(view.HotBytesUsed <= hotBudget, $"hot {view.HotBytesUsed} over the {hotBudget}-byte budget");
            Assert.True(rank.HotAssignedBytes <= hotBudget - fixture.ExpertHotBytes, "room is left for one transient copy");
        }
        TierStoreStats final = await fixture.TierSet.GetStoreStatsAsync();
        output.WriteLine($"hot high water {final.HotHighWaterBytes} of {hotBudget} bytes");
        Assert.True(final.HotHighWaterBytes <= hotBudget);

        // Cold start: the first round misses on every expert it touches; once promoted they hit.
        Assert.True(hitRatios.Skip(Rounds - 3).Average() > hitRatios[0] + 0.1,
            $"hit ratio did not rise: {string.Join(", ", hitRatios.Select(r => r.ToString("P1")))}");
        TierSetView[] history = await fixture.TierSet.GetHistoryAsync(100);
        Assert.Contains(history, v => v.ChangedBy == "controller:latency");
        TierSetView current = await fixture.TierSet.GetAsync();
        Assert.InRange(current.Tiers.Count(t => t.Value == "hot"), 1, ControlFixture.Experts / 2 - 1);

        // Every decision says when, which controller, on which rank, from which numbers, what and why.
        ControlDecisionRecord[] decisions = await fixture.Log.GetDecisionsAsync(2000, null);
        Assert.NotEmpty(decisions);
        Assert.All(decisions, d =>
        {
            Assert.NotEqual(default, d.At);
            Assert.Contains(d.Controller, new[] { "latency", "cost" });
            // Tier decisions are the rank's; a telemetry sampling change is the cluster's.
            Assert.Equal(d.Change.StartsWith("telemetry sampling") ? null : 0, d.Rank);
            Assert.NotEmpty(d.Inputs);
            Assert.False(string.IsNullOrWhiteSpace(d.Change));
            Assert.False(string.IsNullOrWhiteSpace(d.Reason));
            Assert.Contains(d.Outcome, new[] { "applied", "proposed", "refused" });
        });
        Assert.Equal(decisions.Select(d => d.Sequence).OrderDescending(), decisions.Select(d => d.Sequence));
        ControlDecisionRecord promotion = Assert.IsType<ControlDecisionRecord>(decisions.First(d => d.Controller == "latency" && d.Outcome == "applied" && d.Change.Contains("→hot")));
        Assert.NotNull(promotion.Version);
        Assert.Contains(history, v => v.Version == promotion.Version && v.ChangedBy == "controller:latency");
        Assert.Contains(decisions, d => d.Controller == "latency" && d.Inputs.ContainsKey("pressure") && d.Inputs.ContainsKey("hot_allowance_bytes"));
        Assert.Contains(decisions, d => d.Controller == "cost" && d.Inputs.ContainsKey("hot_dollars"));
        Assert.All(await fixture.Log.GetDecisionsAsync(50, "cost"), d => Assert.Equal("cost", d.Controller));
    }
}
