using MoeRuntime.Grains.Experts;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Tests;

public class GrainKeysTests
{
    [Theory]
    [InlineData("default/3/7", "default", 3, 7, null)]
    [InlineData("default/3/7@2", "default", 3, 7, 2)]
    [InlineData("mistralai/Mixtral-8x7B-v0.1/31/5@12", "mistralai/Mixtral-8x7B-v0.1", 31, 5, 12)]
    [InlineData("org@team/model/0/1", "org@team/model", 0, 1, null)]
    public void DefaultAndReplicaKeysParse(string key, string model, int layer, int expert, int? rank)
    {
        Assert.Equal((new ExpertKey(model, layer, expert), rank), GrainKeys.ParseExpert(key));
        if (rank is { } r) Assert.Equal(key, GrainKeys.Replica(model, layer, expert, r));
    }

    [Theory]
    [InlineData("default/3/7@")]
    [InlineData("default/3/7@-1")]
    [InlineData("default/3/x@1")]
    public void MalformedReplicaKeysAreRefused(string key) => Assert.Throws<FormatException>(() => GrainKeys.ParseExpert(key));

    [Theory]
    [InlineData("default/1/3", 1, 3)]
    [InlineData("default/0/0", 0, 0)]
    public void AnExpertOfTheModelIsRead(string text, int layer, int expert) =>
        Assert.Equal(new ExpertKey("default", layer, expert), GrainKeys.ExpertOfModel(text, "default", Config));

    [Theory]
    [InlineData(null, "no expert key given")]
    [InlineData("", "expected model/layer/expert")]
    [InlineData("default/1", "expected model/layer/expert")]
    [InlineData("default/1/x", "the expert 'x'")]
    [InlineData("default/1/3@2", "the expert '3@2'")]
    [InlineData("other/1/3", "expert other/1/3 is not an expert of model default")]
    [InlineData("default/2/3", "expert default/2/3 is not an expert of model default")]
    [InlineData("default/1/4", "expert default/1/4 is not an expert of model default")]
    public void AnythingElseIsAnInvalidRequestNamingIt(string? text, string problem)
    {
        var error = Assert.Throws<MoeRequestException>(() => GrainKeys.ExpertOfModel(text, "default", Config));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
        Assert.Contains(problem, error.Message);
    }

    static readonly ModelConfig Config = new() { LayerCount = 2, ExpertCount = 4 };
}
