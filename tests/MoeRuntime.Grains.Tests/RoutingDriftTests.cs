using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Drift;
using Xunit.Abstractions;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Routing drift end to end on one rank: the cluster aggregator's PSI over the built-in model's real routing stays under
/// the threshold while the prompt mix is steady, and crosses it within a few slots of a shift to numbers and code.
/// Slots are one second here (ten by default) so the test takes seconds, not minutes.
/// </summary>
public sealed class RoutingDriftTests(RoutingDriftTests.DriftFixture fixture, ITestOutputHelper output) : IClassFixture<RoutingDriftTests.DriftFixture>
{
    public sealed class DriftFixture() : ClusterFixture(1)
    {
        public static readonly RoutingDriftSettings Settings = new()
        {
            Slot = TimeSpan.FromSeconds(1), RecentSlots = 3, BaselineSlots = 8, MinChoices = 200,
        };

        protected override void ConfigureSilo(ISiloBuilder siloBuilder) =>
            siloBuilder.Services.Configure<TelemetryOptions>(o => o.RoutingDrift = Settings);
    }


    [Fact]
    public async Task A_steady_mix_stays_under_the_threshold_and_a_shift_to_numbers_crosses_it_within_a_few_slots()
    {
        var slot = DriftFixture.Settings.Slot;
        TimeSpan baselineFill = slot * (DriftFixture.Settings.RecentSlots + DriftFixture.Settings.BaselineSlots + 1);

        // Steady: prose until both windows are full of it, then prose for as long again; PSI must stay under.
        double steadyMax = 0;
        int steadySamples = 0;
        DateTime steadyUntil = DateTime.UtcNow + 2 * baselineFill;
        for (int i = 0; DateTime.UtcNow < steadyUntil && i < 2000; i++)
        {
            await ServeAsync(WorkloadMixes.Prose[i % WorkloadMixes.Prose.Length]);
            if (DateTime.UtcNow < steadyUntil - baselineFill) continue;
            RoutingDriftStatus steady = (await Views.ClusterAsync(fixture.Client)).RoutingDrift!;
            if (!steady.Layers.All(l => l.Sufficient)) continue;
            steadySamples++;
            steadyMax = Math.Max(steadyMax, steady.MaxPsi);
        }
        output.WriteLine($"steady prose: max PSI {steadyMax:F3} over {steadySamples} samples");
        Assert.True(steadySamples > 0, "the windows never held enough choices to judge; the test proves nothing");
        Assert.True(steadyMax < DriftFixture.Settings.PsiThreshold, $"a steady mix reached PSI {steadyMax:F3}");

        // Shift: numbers and code from now on; the aggregator must see PSI over the threshold within a few slots.
        DateTime shifted = DateTime.UtcNow;
        RoutingDriftStatus? seen = null;
        for (int i = 0; DateTime.UtcNow < shifted + slot * 10 && i < 2000; i++)
        {
            await ServeAsync(WorkloadMixes.Numbers[i % WorkloadMixes.Numbers.Length]);
            RoutingDriftStatus status = (await Views.ClusterAsync(fixture.Client)).RoutingDrift!;
            if (status.Drifting)
            {
                seen = status;
                break;
            }
        }
        double after = (DateTime.UtcNow - shifted).TotalSeconds;
        output.WriteLine(seen is null ? "no drift seen" :
            $"drift after {after:F1} s: " + string.Join(", ", seen.Layers.Select(l => $"layer {l.Layer} PSI {l.Psi:F3} shift {l.ChoiceShift:P0}")));
        Assert.NotNull(seen);
        Assert.True(after <= (slot * 6).TotalSeconds, $"the shift was seen only after {after:F1} s");
        Assert.Contains(seen.Layers, l => l.Psi > seen.Threshold && l.ChoiceShift > 0);
    }

    async Task ServeAsync(string prompt) =>
        await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
        {
            Prompt = prompt, Sampling = SamplingParameters.Greedy(2) with { StopTokenIds = [] },
        });
}
