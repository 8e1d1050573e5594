using MoeRuntime.Telemetry.Catalogue;

namespace MoeRuntime.Telemetry.Tests;

public class CardinalityGuardTests
{
    private static readonly MetricDefinition Capped = new("moe_test_total", MetricKind.Counter, "1", "test",
        [MetricLabels.Layer], maxSeries: 3);

    [Fact]
    public void AdmitsUpToTheCapThenCountsRefusals()
    {
        var guard = new CardinalityGuard();
        Assert.True(guard.TryAdmit(Capped, ["0"]));
        Assert.True(guard.TryAdmit(Capped, ["1"]));
        Assert.True(guard.TryAdmit(Capped, ["2"]));
        Assert.False(guard.TryAdmit(Capped, ["3"]));
        Assert.False(guard.TryAdmit(Capped, ["4"]));
        Assert.Equal(2, guard.RefusedFor(Capped));
        Assert.Equal(2, guard.Refused);
    }

    [Fact]
    public void AKnownLabelSetIsAdmittedAgainAtTheCap()
    {
        var guard = new CardinalityGuard();
        foreach (var layer in new[] { "0", "1", "2" }) guard.TryAdmit(Capped, [layer]);
        Assert.True(guard.TryAdmit(Capped, ["1"]));
        Assert.Equal(0, guard.Refused);
    }

    [Fact]
    public void ValuesOutsideAClosedLabelAreRefusedLoudly()
    {
        var guard = new CardinalityGuard();
        Assert.Throws<ArgumentException>(() => guard.TryAdmit(MoeMetrics.TierMemoryBytes, ["lukewarm"]));
        Assert.Throws<ArgumentException>(() => guard.TryAdmit(MoeMetrics.TierMemoryBytes, ["hot", "extra"]));
        Assert.Throws<ArgumentException>(() => guard.TryAdmit(Capped, [new string('9', MetricLabels.MaxValueLength + 1)]));
    }
}
