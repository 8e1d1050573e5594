using MoeRuntime.Control.Latency;

namespace MoeRuntime.Control.Tests.Latency;

public sealed class DriftHalfLifeTests
{
    static readonly DriftHalfLifeOptions Defaults = new();

    [Fact]
    public void TheDefaultsAreOnAtTheAlertsThresholdWithHalfTheHalfLife()
    {
        Assert.True(Defaults.Enabled);
        Assert.Equal(0.25, Defaults.PsiThreshold);
        Assert.Equal(0.2, Defaults.RestoreBelowPsi);
        Assert.Equal(0.5, Defaults.Factor);
        Defaults.Validate();
    }

    [Fact]
    public void ASteadyWorkloadLeavesTheHalfLifeAsConfigured()
    {
        var drift = new DriftHalfLife();
        foreach (double psi in new[] { 0.0, 0.01, 0.08, 0.25, 0.12, 0.002 })
            Assert.Null(drift.Observe(psi, Defaults));
        Assert.False(drift.Shortened);
        Assert.Equal(3, drift.Current(3, Defaults));
    }

    [Fact]
    public void DriftShortensTheHalfLifeOnceAndSettlingRestoresItOnce()
    {
        var drift = new DriftHalfLife();
        DriftHalfLifeSwitch shortened = Assert.IsType<DriftHalfLifeSwitch>(drift.Observe(0.44, Defaults));
        Assert.Equal(new DriftHalfLifeSwitch(true, 0.44, 0.25, true), shortened);
        Assert.Equal(1.5, drift.Current(3, Defaults));

        // Still drifting, then between the restore level and the threshold: held, nothing to record.
        Assert.Null(drift.Observe(0.3, Defaults));
        Assert.Null(drift.Observe(0.22, Defaults));
        Assert.Null(drift.Observe(0.2, Defaults));
        Assert.True(drift.Shortened);

        DriftHalfLifeSwitch restored = Assert.IsType<DriftHalfLifeSwitch>(drift.Observe(0.19, Defaults));
        Assert.Equal(new DriftHalfLifeSwitch(false, 0.19, 0.2, true), restored);
        Assert.Equal(3, drift.Current(3, Defaults));
        // Back between the two levels after restoring: still restored.
        Assert.Null(drift.Observe(0.24, Defaults));
    }

    [Fact]
    public void AnIntervalWithoutDriftReadHoldsTheState()
    {
        var drift = new DriftHalfLife();
        Assert.Null(drift.Observe(null, Defaults));
        Assert.NotNull(drift.Observe(0.5, Defaults));
        Assert.Null(drift.Observe(null, Defaults));
        Assert.Null(drift.Observe(double.NaN, Defaults));
        Assert.True(drift.Shortened);
    }

    [Fact]
    public void SwitchedOffItRestoresAtOnceAndNeverShortens()
    {
        var drift = new DriftHalfLife();
        Assert.NotNull(drift.Observe(0.5, Defaults));
        var off = Defaults with { Enabled = false };
        Assert.Equal(new DriftHalfLifeSwitch(false, 0.5, 0.2, false), drift.Observe(0.5, off));
        Assert.Null(drift.Observe(0.9, off));
        Assert.False(drift.Shortened);
    }

    [Theory]
    [InlineData(3, 0.5, 1.5)]
    [InlineData(1.5, 0.5, 1)]
    [InlineData(8, 0.25, 2)]
    [InlineData(0.5, 0.5, 0.5)]
    [InlineData(3, 1, 3)]
    public void TheShortenedHalfLifeIsFlooredAtOneInterval(double configured, double factor, double expected) =>
        Assert.Equal(expected, DriftHalfLife.Shorten(configured, factor));

    [Theory]
    [InlineData(0, 0.2, 0.5, "PsiThreshold")]
    [InlineData(double.PositiveInfinity, 0.2, 0.5, "PsiThreshold")]
    [InlineData(0.25, 0.3, 0.5, "RestoreBelowPsi")]
    [InlineData(0.25, 0, 0.5, "RestoreBelowPsi")]
    [InlineData(0.25, 0.2, 0, "Factor")]
    [InlineData(0.25, 0.2, 1.5, "Factor")]
    [InlineData(0.25, 0.2, double.NaN, "Factor")]
    public void OutOfRangeOptionsAreRefusedByName(double threshold, double restore, double factor, string name)
    {
        var options = new DriftHalfLifeOptions { PsiThreshold = threshold, RestoreBelowPsi = restore, Factor = factor };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Equal(name, error.ParamName);
        Assert.StartsWith($"DriftHalfLifeOptions.{name} must", error.Message, StringComparison.Ordinal);
        // The latency controller's options check their drift section too.
        Assert.Equal(name, Assert.Throws<ArgumentException>(() => new LatencyControllerOptions { DriftHalfLife = options }.Validate()).ParamName);
    }
}
