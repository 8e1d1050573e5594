using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Serving.Tests.Tiers;

public class TierSetTests
{
    static readonly ExpertKey A = new("m", 0, 0), B = new("m", 0, 1), C = new("m", 1, 0);
    static (long HotBytes, long WarmBytes) Sizes(ExpertKey key) => (100, 50);

    [Fact]
    public void AssignmentsWithinTheBudgetsPass() =>
        StoreTesting.TierSet("m", 1, new TierBudgets(200, 50), (A, Tier.Hot), (B, Tier.Hot), (C, Tier.Warm)).Validate(Sizes);

    [Fact]
    public void TooManyHotBytesAreRejectedWithTheNumbers()
    {
        var tierSet = StoreTesting.TierSet("m", 4, new TierBudgets(150, 1000), (A, Tier.Hot), (B, Tier.Hot), (C, Tier.Cold));
        var error = Assert.Throws<ArgumentException>(() => tierSet.Validate(Sizes));
        Assert.Contains("200 bytes to the hot tier", error.Message);
        Assert.Contains("hot budget of 150 bytes", error.Message);
        Assert.Contains("m rank 0 v4", error.Message);
    }

    [Fact]
    public void TooManyWarmBytesAreRejectedWithTheNumbers()
    {
        var tierSet = StoreTesting.TierSet("m", 1, new TierBudgets(1000, 99), (A, Tier.Warm), (B, Tier.Warm));
        var error = Assert.Throws<ArgumentException>(() => tierSet.Validate(Sizes));
        Assert.Contains("100 bytes to the warm tier", error.Message);
        Assert.Contains("warm budget of 99 bytes", error.Message);
    }

    [Fact]
    public void ExpertsOfAnotherModelAreRejected()
    {
        var tierSet = StoreTesting.TierSet("m", 1, new TierBudgets(1000, 1000), (new ExpertKey("other", 0, 0), Tier.Warm));
        Assert.Contains("other/0/0", Assert.Throws<ArgumentException>(() => tierSet.Validate(Sizes)).Message);
    }

    [Fact]
    public void NegativeBudgetsAreRejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TierBudgets(-1, 0));
}
