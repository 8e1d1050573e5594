using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Serving.Tests.Tiers;

public class TierNamesTests
{
    [Theory]
    [InlineData("hot", Tier.Hot)]
    [InlineData("HOT", Tier.Hot)]
    [InlineData("Warm", Tier.Warm)]
    [InlineData("cOLd", Tier.Cold)]
    public void NamesParseInAnyCase(string text, Tier tier)
    {
        Assert.True(TierNames.TryParse(text, out Tier parsed));
        Assert.Equal(tier, parsed);
        Assert.Equal(tier, TierNames.Parse(text));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1")]
    [InlineData("3")]
    [InlineData("-1")]
    [InlineData("")]
    [InlineData(" hot")]
    [InlineData("hot,warm")]
    [InlineData("Hot | Warm")]
    [InlineData("lukewarm")]
    public void AnythingElseIsRefusedNamingTheText(string text)
    {
        Assert.False(TierNames.TryParse(text, out _));
        var error = Assert.Throws<FormatException>(() => TierNames.Parse(text));
        Assert.Equal($"'{text}' is not a tier (hot, warm, cold)", error.Message);
    }

    [Fact]
    public void NullIsRefusedAsNoTier()
    {
        Assert.False(TierNames.TryParse(null, out _));
        var error = Assert.Throws<FormatException>(() => TierNames.Parse(null));
        Assert.Equal("no tier given (hot, warm, cold)", error.Message);
    }

    [Fact]
    public void EveryTierHasALowerCaseNameThatParsesBack()
    {
        Assert.Equal(["hot", "warm", "cold"], Enum.GetValues<Tier>().Select(TierNames.Of));
        foreach (Tier tier in Enum.GetValues<Tier>()) Assert.Equal(tier, TierNames.Parse(TierNames.Of(tier)));
        Assert.Throws<ArgumentOutOfRangeException>(() => TierNames.Of((Tier)3));
    }
}
