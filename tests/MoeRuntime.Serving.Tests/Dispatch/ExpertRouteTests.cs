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

    [Fact]
    public void TheCopyOnTheCallingRankComesAfterTheDefaultGrainOrBeforeItWhileTheDefaultIsAvoided()
    {
        var route = new ExpertRoute("m/0/1", localKey: "m/0/1@2");
        Assert.Equal(["m/0/1", "m/0/1@2", "m/0/1"], Enumerable.Range(1, 3).Select(route.KeyFor));
        Assert.Equal(2, route.Choices);
        Assert.Equal("m/0/1@2", route.Local);

        var avoiding = new ExpertRoute("m/0/1", localKey: "m/0/1@2", avoidDefault: true);
        Assert.Equal(["m/0/1@2", "m/0/1", "m/0/1@2"], Enumerable.Range(1, 3).Select(avoiding.KeyFor));

        var replicated = new ExpertRoute("m/0/1", ["m/0/1@0", "m/0/1@1"], start: 0, localKey: "m/0/1@2", avoidDefault: true);
        Assert.Equal(["m/0/1@0", "m/0/1@1", "m/0/1@2", "m/0/1"], Enumerable.Range(1, 4).Select(replicated.KeyFor));
    }

    [Fact]
    public void ALocalCopyThatIsAlreadyOneOfTheReplicasIsNotTriedTwice()
    {
        var route = new ExpertRoute("m/0/1", ["m/0/1@0", "m/0/1@1"], start: 0, localKey: "m/0/1@1");
        Assert.Null(route.Local);
        Assert.Equal(3, route.Choices);
        Assert.Equal(["m/0/1@0", "m/0/1@1", "m/0/1"], Enumerable.Range(1, 3).Select(route.KeyFor));
        Assert.Throws<ArgumentOutOfRangeException>(() => route.KeyFor(0));
    }
}
