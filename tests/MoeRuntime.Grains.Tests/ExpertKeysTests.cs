using MoeRuntime.Grains.Experts;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Tests;

public class ExpertKeysTests
{
    [Theory]
    [InlineData("default/3/7", "default", 3, 7, null)]
    [InlineData("default/3/7@2", "default", 3, 7, 2)]
    [InlineData("mistralai/Mixtral-8x7B-v0.1/31/5@12", "mistralai/Mixtral-8x7B-v0.1", 31, 5, 12)]
    [InlineData("org@team/model/0/1", "org@team/model", 0, 1, null)]
    public void DefaultAndReplicaKeysParse(string key, string model, int layer, int expert, int? rank)
    {
        Assert.Equal((new ExpertKey(model, layer, expert), rank), ExpertKeys.Parse(key));
        if (rank is { } r) Assert.Equal(key, ExpertKeys.OfReplica(model, layer, expert, r));
    }

    [Theory]
    [InlineData("default/3/7@")]
    [InlineData("default/3/7@-1")]
    [InlineData("default/3/x@1")]
    public void MalformedReplicaKeysAreRefused(string key) => Assert.Throws<FormatException>(() => ExpertKeys.Parse(key));
}
