using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Serving.Tests.Tiers;

public class ExpertKeyTests
{
    [Theory]
    [InlineData("default", 3, 7, "default/3/7")]
    [InlineData("mistralai/Mixtral-8x7B-v0.1", 31, 0, "mistralai/Mixtral-8x7B-v0.1/31/0")]
    public void RoundTripsThroughItsText(string model, int layer, int expert, string text)
    {
        var key = new ExpertKey(model, layer, expert);
        Assert.Equal(text, key.ToString());
        Assert.Equal(key, ExpertKey.Parse(text));
    }

    [Theory]
    [InlineData("", "expected model/layer/expert")]
    [InlineData("default/3", "expected model/layer/expert")]
    [InlineData("/3/7", "expected model/layer/expert")]
    [InlineData("default/x/7", "the layer 'x'")]
    [InlineData("default/3/-7", "the expert '-7'")]
    [InlineData("default/3/ 7", "the expert ' 7'")]
    public void ParseNamesWhatIsWrong(string text, string problem)
    {
        var error = Assert.Throws<FormatException>(() => ExpertKey.Parse(text));
        Assert.Contains(problem, error.Message);
        Assert.Contains($"'{text}'", error.Message);
    }
}
