using Orleans.Core.Internal;

namespace MoeRuntime.Grains.Tests;

/// <summary>Dry run and operator pins: the controllers propose without writing, and never move a pinned expert.</summary>
public sealed class ControlGuardTests(ControlFixture fixture) : IClassFixture<ControlFixture>
{
    [Fact]
    public async Task ADryRunRecordsProposalsAndWritesNothing()
    {
        await fixture.Controller.SetDryRunAsync(true);
        try
        {
            long since = (await fixture.Log.GetDecisionsAsync(1, null)).FirstOrDefault()?.Sequence ?? 0;
            long version = (await fixture.TierSet.GetAsync()).Version;
            for (int round = 0; round < 2; round++)
            {
                await fixture.ServeRoundAsync(round);
                ControllerStatus status = await fixture.Controller.TickAsync();
                Assert.True(status.DryRun);
                Assert.Null(status.LastError);
            }
            Assert.Equal(version, (await fixture.TierSet.GetAsync()).Version);
            ControlDecisionRecord[] decisions = (await fixture.Log.GetDecisionsAsync(2000, null)).Where(d => d.Sequence > since).ToArray();
            Assert.Contains(decisions, d => d.Controller == "latency" && d.Outcome == "proposed");
            Assert.DoesNotContain(decisions, d => d.Outcome == "applied" && d.Controller != "operator");
            Assert.All(decisions.Where(d => d.Controller != "operator"), d => Assert.Null(d.Version));
        }
        finally
        {
            await fixture.Controller.SetDryRunAsync(false);
        }
    }

    [Fact]
    public async Task APinnedExpertIsNeverMovedByTheControllers()
    {
        await fixture.ServeRoundAsync(0);
        TierControlState state = await fixture.TierSet.GetControlStateAsync();
        // The busiest expert: the one the latency controller most wants hot.
        string expert = state.Experts.MaxBy(e => e.Uses)!.Expert;
        ControllerStatus pinned = await fixture.Controller.PinAsync(expert, "warm", "test", "keep it off the device");
        try
        {
            ExpertPin pin = Assert.Single(pinned.Pins);
            Assert.Equal((expert, "warm", "test"), (pin.Expert, pin.Tier, pin.By));
            Assert.Equal("warm", (await fixture.TierSet.GetAsync()).Tiers[expert]);
            Assert.Equal("operator:test", (await fixture.TierSet.GetAsync()).ChangedBy);

            for (int round = 1; round <= 4; round++)
            {
                await fixture.ServeRoundAsync(round);
                ControllerStatus status = await fixture.Controller.TickAsync();
                Assert.Null(status.LastError);
                Assert.Contains(status.Pins, p => p.Expert == expert);
                Assert.Equal("warm", (await fixture.TierSet.GetAsync()).Tiers[expert]);
            }
            Assert.Contains(await fixture.TierSet.GetHistoryAsync(100), v => v.ChangedBy == "controller:latency");
            ControlDecisionRecord record = Assert.Single(await fixture.Log.GetDecisionsAsync(2000, "operator"), d => d.Change.Contains(expert));
            Assert.Equal("applied", record.Outcome);
            Assert.NotNull(record.Version);
        }
        finally
        {
            ControllerStatus unpinned = await fixture.Controller.PinAsync(expert, null, "test", "done");
            Assert.Empty(unpinned.Pins);
        }
    }

    [Fact]
    public async Task PinsAndTheDryRunSwitchSurviveTheControllerMoving()
    {
        string expert = $"{ClusterFixture.ModelName}/1/2";
        // Served first, so that the rank holds the expert and the pin is written at once.
        await fixture.ServeRoundAsync(0);
        await fixture.Controller.PinAsync(expert, "hot", "test", "survives a move");
        await fixture.Controller.SetDryRunAsync(true);
        try
        {
            Assert.True((await fixture.Controller.TickAsync()).Ticks > 0);
            await fixture.Controller.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
            // A new activation has run no interval yet.
            ControllerStatus status = await Eventually.Async(() => fixture.Controller.GetStatusAsync(), s => s.Ticks == 0);
            Assert.True(status.DryRun);
            ExpertPin pin = Assert.Single(status.Pins);
            Assert.Equal((expert, "hot", "test", "survives a move"), (pin.Expert, pin.Tier, pin.By, pin.Reason));

            // And they still bind: the new activation proposes only and leaves the pin where it is.
            long version = (await fixture.TierSet.GetAsync()).Version;
            await fixture.ServeRoundAsync(1);
            Assert.Null((await fixture.Controller.TickAsync()).LastError);
            Assert.Equal(version, (await fixture.TierSet.GetAsync()).Version);
            Assert.Equal("hot", (await fixture.TierSet.GetAsync()).Tiers[expert]);
        }
        finally
        {
            await fixture.Controller.SetDryRunAsync(false);
            await fixture.Controller.PinAsync(expert, null, "test", "done");
        }
        await fixture.Controller.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        ControllerStatus after = await Eventually.Async(() => fixture.Controller.GetStatusAsync(), s => s.Ticks == 0);
        Assert.False(after.DryRun);
        Assert.Empty(after.Pins);
    }

    [Fact]
    public async Task APinOfAnExpertOutsideTheModelIsRefused()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => fixture.Controller.PinAsync("default/9/0", "hot", "test", "no such expert"));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        error = await Assert.ThrowsAsync<MoeRequestException>(() => fixture.Controller.PinAsync("default/0/0", "lukewarm", "test", "no such tier"));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
    }
}
