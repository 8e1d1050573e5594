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
    public void APlanIsJudgeableOnlyWhenItsRankAndAnotherCalledExperts()
    {
        int[] live = [0, 1, 2];
        Assert.Null(AutoTrial.Unjudgeable(0, live, new HashSet<int>()));
        // One busy control rank is enough; ranks not measured yet are not idle.
        Assert.Null(AutoTrial.Unjudgeable(0, live, new HashSet<int> { 1 }));
        Assert.Null(AutoTrial.Unjudgeable(0, live, new HashSet<int> { 7 }));
        Assert.Contains("rank 0 called no expert", AutoTrial.Unjudgeable(0, live, new HashSet<int> { 0 }));
        Assert.Contains("no other live rank called an expert", AutoTrial.Unjudgeable(0, live, new HashSet<int> { 1, 2 }));
        Assert.NotNull(AutoTrial.Unjudgeable(2, [2], new HashSet<int>()));
    }

    [Fact]
    public void ANegativeSizeIsRefusedNamingTheOption()
    {
        var e = Assert.Throws<ArgumentException>(new CanaryOptions { AutoTrialAbove = -1 }.Validate);
        Assert.Contains("AutoTrialAbove", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => AutoTrial.Route(-1, 2, AboveEight));
    }
}
