using MoeRuntime.Telemetry.Security;

namespace MoeRuntime.Telemetry.Tests.Security;

public sealed class RankIdsTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("7")]
    [InlineData("2147483647")]
    public void DecimalRanksPass(string rank) => Assert.True(RankIds.IsValid(rank));

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("01")]
    [InlineData("1 ")]
    [InlineData("2147483648")]
    [InlineData("99999999999")]
    [InlineData("shard-0")]
    [InlineData("<img src=x onerror=alert(1)>")]
    [InlineData("\u0661")]
    public void AnythingElseIsRefusedWithoutEchoingIt(string rank)
    {
        Assert.False(RankIds.IsValid(rank));
        string? problem = RankIds.Problem(rank);
        Assert.NotNull(problem);
        if (rank.Length > 0) Assert.DoesNotContain(rank, problem, StringComparison.Ordinal);
    }
}
