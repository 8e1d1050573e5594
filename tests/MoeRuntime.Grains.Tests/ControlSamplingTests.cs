using MoeRuntime.Control.Latency;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using OpenTelemetry.Trace;
using Orleans.Core.Internal;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// The latency controller's other lever: under latency pressure it lowers the cluster's telemetry sampling, halving it
/// per interval down to <see cref="LatencyControllerOptions.MinSampleRatio"/>, and every rank follows. The fixture's
/// targets are unreachable, so every measured interval is over target.
/// </summary>
public sealed class ControlSamplingTests(ControlFixture fixture, ITestOutputHelper output) : IClassFixture<ControlFixture>
{
    // One test, so that the dry run is sure to start from the configured sampling: nothing resets it afterwards.
    [Fact]
    public async Task ADryRunOnlyProposesThenUnderLatencyPressureSamplingHalvesToItsFloorAndRanksFollow()
    {
        double floor = new ControlOptions().Latency.MinSampleRatio;
        await ADryRunOnlyProposesASamplingChangeAsync();

        var ratios = new List<double> { (await fixture.Controller.GetSamplingAsync()).Ratio };
        for (int round = 0; round < 3 && ratios[^1] > floor; round++)
        {
            await fixture.ServeRoundAsync(round);
            await fixture.WaitForLatencyAsync();
            ControllerStatus status = await fixture.Controller.TickAsync();
            Assert.Null(status.LastError);
            ratios.Add(status.Sampling.Ratio);
        }

        // Never below the floor, never up while over target, each change a halving.
        Assert.Equal(floor, ratios[^1]);
        Assert.Equal([1.0, 0.5, 0.25], ratios.Distinct());
        TelemetrySamplingView sampling = await fixture.Controller.GetSamplingAsync();
        Assert.Equal((2, "controller:latency"), (sampling.Version, sampling.ChangedBy));

        // (The dry run proposed changes before.)
        ControlDecisionRecord[] changes = (await fixture.Log.GetDecisionsAsync(2000, "latency"))
            .Where(d => d.Change.StartsWith("telemetry sampling") && d.Outcome == "applied").ToArray();
        Assert.Equal(2, changes.Length);
        Assert.All(changes, d =>
        {
            Assert.Null(d.Rank);
            double measured = Math.Max(d.Inputs.GetValueOrDefault("p95_itl_s"), d.Inputs.GetValueOrDefault("p95_ttft_s"));
            Assert.True(measured > 1e-6, "the change was made without a latency over target");
        });
        Assert.Equal(sampling.Version, changes.Max(d => d.Version));

        // The rank samples routing re-checks four times as sparsely, and serving is unchanged.
        TelemetrySamplingCache cache = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<TelemetrySamplingCache>();
        await cache.RefreshAsync();
        Assert.Equal(floor, cache.Ratio);
        Assert.Equal(4 * new MoeSiloOptions().RoutingCheckEveryNTokens, cache.RoutingCheckEveryNTokens);
        double share = SampledShare(new RequestRootSampler(0.8, cache));
        output.WriteLine($"trace sampler at 0.8 x {cache.Ratio}: kept {share:P2} of request roots; routing checks every {cache.RoutingCheckEveryNTokens} tokens");
        Assert.InRange(share, 0.8 * floor - 0.03, 0.8 * floor + 0.03);
        await fixture.ServeRoundAsync(8);

        // A controller that moves carries on from the sampling it set.
        await fixture.Controller.AsReference<IGrainManagementExtension>().DeactivateOnIdle();
        ControllerStatus resumed = await Eventually.Async(() => fixture.Controller.GetStatusAsync(), s => s.Ticks == 0);
        Assert.Equal(sampling, resumed.Sampling);
    }

    async Task ADryRunOnlyProposesASamplingChangeAsync()
    {
        await fixture.Controller.SetDryRunAsync(true);
        try
        {
            TelemetrySamplingView before = await fixture.Controller.GetSamplingAsync();
            long since = (await fixture.Log.GetDecisionsAsync(1, null)).FirstOrDefault()?.Sequence ?? 0;
            for (int round = 0; round < 3; round++)
            {
                await fixture.ServeRoundAsync(round);
                await fixture.WaitForLatencyAsync();
                Assert.Equal(before, (await fixture.Controller.TickAsync()).Sampling);
            }
            ControlDecisionRecord[] changes = (await fixture.Log.GetDecisionsAsync(2000, "latency"))
                .Where(d => d.Sequence > since && d.Change.StartsWith("telemetry sampling")).ToArray();
            Assert.NotEmpty(changes);
            Assert.All(changes, d => Assert.Equal(("proposed", (long?)null), (d.Outcome, d.Version)));
        }
        finally
        {
            await fixture.Controller.SetDryRunAsync(false);
        }
    }

    /// <summary>The share of 4000 request root spans with random trace ids the sampler keeps; other root spans are all dropped.</summary>
    static double SampledShare(RequestRootSampler sampler)
    {
        int kept = 0;
        for (int i = 0; i < 4000; i++)
        {
            ActivityTraceId trace = ActivityTraceId.CreateRandom();
            if (sampler.ShouldSample(new OpenTelemetry.Trace.SamplingParameters(default, trace, "moe.request", ActivityKind.Server)).Decision == SamplingDecision.RecordAndSample) kept++;
            Assert.Equal(SamplingDecision.Drop, sampler.ShouldSample(new OpenTelemetry.Trace.SamplingParameters(default, trace, "moe.expert_dispatch", ActivityKind.Internal)).Decision);
        }
        return kept / 4000.0;
    }
}
