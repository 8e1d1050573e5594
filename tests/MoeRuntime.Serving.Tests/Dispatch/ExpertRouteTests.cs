using MoeRuntime.Serving.Dispatch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class ExpertRouteTests
{
    [Fact]
    public void ARouteTriesEachReplicaFromItsStartThenTheDefaultGrain()
    {
        var route = new ExpertRoute("m/0/1", ["m/0/1@0", "m/0/1@1", "m/0/1@2"], start: 1);
        Assert.Equal(["m/0/1@1", "m/0/1@2", "m/0/1@0", "m/0/1", "m/0/1@1"], Enumerable.Range(1, 5).Select(route.KeyFor));
        Assert.Equal(4, route.Choices);
        Assert.Equal(["m/0/1", "m/0/1"], Enumerable.Range(1, 2).Select(new ExpertRoute("m/0/1").KeyFor));
    }
}
