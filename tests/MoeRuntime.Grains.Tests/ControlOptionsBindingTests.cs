using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Latency;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// <c>Moe:Control:Latency</c> binds straight onto the latency controller's own (init-only) options, nested fetch priors
/// included, so a key set in configuration reaches the controller and the rest keep the controller's defaults.
/// </summary>
public sealed class ControlOptionsBindingTests
{
    static MoeSiloOptions Bind(Dictionary<string, string?> settings)
    {
        var options = new MoeSiloOptions();
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(MoeSiloOptions.Section).Bind(options);
        return options;
    }

    [Fact]
    public void LatencyKeysReachTheControllersOptionsAndTheRestKeepItsDefaults()
    {
        MoeSiloOptions options = Bind(new()
        {
            ["Moe:Control:Latency:TargetP95InterTokenSeconds"] = "0.04",
            ["Moe:Control:Latency:ShrinkStep"] = "0.1",
            ["Moe:Control:Latency:MinSampleRatio"] = "0.5",
            ["Moe:Control:Latency:FetchPriors:WarmSeconds"] = "0.004",
            ["Moe:Control:Latency:FetchPriors:ColdSeconds"] = "0.05",
            ["Moe:Control:Latency:DriftHalfLife:Factor"] = "0.25",
        });
        LatencyControllerOptions latency = options.Control.Latency;
        var defaults = new LatencyControllerOptions();
        Assert.Equal((0.04, 0.1, 0.5), (latency.TargetP95InterTokenSeconds, latency.ShrinkStep, latency.MinSampleRatio));
        Assert.Equal((0.004, 0.05), (latency.FetchPriors.WarmSeconds, latency.FetchPriors.ColdSeconds));
        Assert.Equal(defaults with
        {
            TargetP95InterTokenSeconds = 0.04,
            ShrinkStep = 0.1,
            MinSampleRatio = 0.5,
            FetchPriors = new(0.004, 0.05),
            DriftHalfLife = new() { Factor = 0.25 },
        }, latency);
        MoeConfiguration.Check(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Moe:Control:Latency:TargetP95InterTokenSeconds"] = "0.04",
            ["Moe:Control:Latency:FetchPriors:WarmSeconds"] = "0.004",
        }).Build());
    }

    [Fact]
    public void AnOutOfRangeLatencyKeyIsRefusedByName()
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Moe:Control:Latency:ShrinkStep"] = "2" }).Build();
        var error = Assert.Throws<OptionsValidationException>(() => MoeConfiguration.Check(settings));
        Assert.Equal("Moe:Control:Latency:ShrinkStep must be a share (0, 1], was 2", Assert.Single(error.Failures));
    }

    [Fact]
    public void AnOutOfRangeDriftHalfLifeKeyIsRefusedByItsKey()
    {
        var settings = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Moe:Control:Latency:DriftHalfLife:RestoreBelowPsi"] = "0.3" }).Build();
        var error = Assert.Throws<OptionsValidationException>(() => MoeConfiguration.Check(settings));
        Assert.Equal("Moe:Control:Latency:DriftHalfLife:RestoreBelowPsi must be positive and at most PsiThreshold (0.25), was 0.3", Assert.Single(error.Failures));
    }

    [Fact]
    public void WithoutLatencyKeysTheControllersDefaultsApply() =>
        Assert.Equal(new LatencyControllerOptions(), Bind(new() { ["Moe:Control:Interval"] = "00:00:02" }).Control.Latency);
}
