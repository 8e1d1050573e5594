using MoeRuntime.Control.Canary;

namespace MoeRuntime.Control.Tests.Canary;

public sealed class AutoTrialTests
{
    static readonly CanaryOptions AboveEight = new() { AutoTrialAbove = 8 };

    [Theory]
    [InlineData(0, PlanRoute.Write)]
    [InlineData(8, PlanRoute.Write)]
    [InlineData(9, PlanRoute.Trial)]
    [InlineData(16, PlanRoute.Trial)]
    public void OnlyPlansAboveTheSizeBecomeTrials(int moves, PlanRoute expected) =>
        Assert.Equal(expected, AutoTrial.Route(moves, liveRanks: 2, AboveEight));

    [Fact]
    public void OffByDefaultAndWhenTrialsAreOff()
    {
        Assert.Equal(0, new CanaryOptions().AutoTrialAbove);
        Assert.Equal(PlanRoute.Write, AutoTrial.Route(100, 4, new CanaryOptions()));
        Assert.Equal(PlanRoute.Write, AutoTrial.Route(100, 4, AboveEight with { Enabled = false }));
    }

    [Fact]
    public void ALoneRankWritesItsPlanForThereIsNoControl() =>
        Assert.Equal(PlanRoute.Write, AutoTrial.Route(100, liveRanks: 1, AboveEight));

    [Fact]
    public void ANegativeSizeIsRefusedNamingTheOption()
    {
        var e = Assert.Throws<ArgumentException>(new CanaryOptions { AutoTrialAbove = -1 }.Validate);
        Assert.Contains("AutoTrialAbove", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AutoTrial.Route(-1, 2, AboveEight));
    }
}
