using MoeRuntime.Telemetry.Drift;

namespace MoeRuntime.Telemetry.Tests.Drift;

public class RoutingDriftTests
{
    const int Layers = 2, Experts = 8, TopK = 2, TokensPerSecond = 100;
    static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    // "Prose" favours experts 0-3, "code" experts 4-7 with some overlap; layer 1 routes the same for both (it does not shift).
    static readonly double[] Prose = [0.30, 0.25, 0.15, 0.10, 0.08, 0.05, 0.04, 0.03];
    static readonly double[] Code = [0.03, 0.04, 0.05, 0.10, 0.15, 0.20, 0.18, 0.25];

    [Fact]
    public void IdenticalDistributionsHaveNoDrift()
    {
        long[] counts = [10, 20, 30, 40];
        Assert.Equal(0, RoutingDrift.Psi(counts, counts), 12);
        Assert.Equal(0, RoutingDrift.ChoiceShift(counts, counts), 12);
        // Scale does not matter, only shares.
        Assert.Equal(0, RoutingDrift.Psi(counts, [20, 40, 60, 80]), 12);
    }

    [Fact]
    public void PsiMatchesTheFormulaAndShiftIsTotalVariation()
    {
        long[] recent = [50, 50], baseline = [80, 20];
        double expected = (0.5 - 0.8) * Math.Log(0.5 / 0.8) + (0.5 - 0.2) * Math.Log(0.5 / 0.2);
        Assert.Equal(expected, RoutingDrift.Psi(recent, baseline), 12);
        Assert.Equal(0.3, RoutingDrift.ChoiceShift(recent, baseline), 12);
    }

    [Fact]
    public void AnEmptyBinIsFlooredAtEpsilonSoPsiStaysFinite()
    {
        long[] recent = [0, 100], baseline = [100, 0];
        double psi = RoutingDrift.Psi(recent, baseline, 1e-4);
        double expected = 2 * (1 - 1e-4) * Math.Log(1 / 1e-4);
        Assert.Equal(expected, psi, 9);
        Assert.Equal(1, RoutingDrift.ChoiceShift(recent, baseline), 12);
        Assert.True(RoutingDrift.Psi(recent, baseline, 1e-3) < psi, "a larger epsilon caps the empty bins' term lower");
    }

    [Fact]
    public void EmptyWindowsReportNoDrift()
    {
        Assert.Equal(0, RoutingDrift.Psi([0, 0], [1, 2]));
        Assert.Equal(0, RoutingDrift.ChoiceShift([1, 2], [0, 0]));
    }

    [Fact]
    public void BadInputIsRefusedWithWhatIsWrong()
    {
        Assert.Contains("must match", Assert.Throws<ArgumentException>(() => RoutingDrift.Psi([1, 2], [1, 2, 3])).Message);
        Assert.Contains("negative", Assert.Throws<ArgumentException>(() => RoutingDrift.ChoiceShift([1, -2], [1, 2])).Message);
        Assert.Contains("epsilon", Assert.Throws<ArgumentException>(() => RoutingDrift.Psi([1], [1], 0)).Message);
        Assert.Contains("RecentSlots", Assert.Throws<ArgumentException>(() => new RoutingDriftTracker(1, 2, new RoutingDriftSettings { RecentSlots = 0 })).Message);
        Assert.Contains("do not fit", Assert.Throws<ArgumentException>(() => new RoutingDriftTracker(2, 4, new RoutingDriftSettings()).Add(new long[7], Start)).Message);
    }

    [Fact]
    public void ASteadyWorkloadStaysUnderTheThreshold()
    {
        var tracker = new RoutingDriftTracker(Layers, Experts, new RoutingDriftSettings());
        var random = new Random(21);
        double max = 0;
        for (int second = 0; second < 600; second++)
        {
            DateTimeOffset at = Start.AddSeconds(second + 0.5);
            tracker.Add(Interval(random, Prose, Prose), at);
            RoutingDriftStatus status = tracker.Compute(at);
            if (second >= 160) Assert.All(status.Layers, l => Assert.True(l.Sufficient, $"layer {l.Layer} at {second} s"));
            max = Math.Max(max, status.MaxPsi);
        }
        Assert.True(max < 0.1, $"a steady workload's PSI stayed at {max:F4}, which should be sampling noise under 0.1");
    }

    [Fact]
    public void AWorkloadShiftRaisesPsiOverTheThresholdWithinAFewSlotsOnTheLayerThatShifted()
    {
        var settings = new RoutingDriftSettings();
        var tracker = new RoutingDriftTracker(Layers, Experts, settings);
        var random = new Random(21);
        const int ShiftAt = 180;
        int? detectedAt = null;
        RoutingDriftStatus? atDetection = null;
        for (int second = 0; second < 400; second++)
        {
            DateTimeOffset at = Start.AddSeconds(second + 0.5);
            tracker.Add(second < ShiftAt ? Interval(random, Prose, Prose) : Interval(random, Code, Prose), at);
            RoutingDriftStatus status = tracker.Compute(at);
            if (second < ShiftAt) Assert.False(status.Drifting, $"drift before the shift, at {second} s: {status.MaxPsi:F3}");
            else if (status.Drifting && detectedAt is null) (detectedAt, atDetection) = (second, status);
        }
        Assert.NotNull(detectedAt);
        Assert.True(detectedAt - ShiftAt <= 3 * settings.Slot.TotalSeconds, $"the shift was seen {detectedAt - ShiftAt} s after it began");
        Assert.True(atDetection!.Layers[0].Psi > settings.PsiThreshold);
        Assert.True(atDetection.Layers[0].ChoiceShift > 0.1, $"layer 0 shifted {atDetection.Layers[0].ChoiceShift:F3} of its choices");
        Assert.True(atDetection.Layers[1].Psi < 0.1, $"layer 1 did not shift but shows PSI {atDetection.Layers[1].Psi:F3}");
    }

    [Fact]
    public void ALastingShiftBecomesTheBaselineAndPsiFallsBack()
    {
        var settings = new RoutingDriftSettings();
        var tracker = new RoutingDriftTracker(Layers, Experts, settings);
        var random = new Random(5);
        RoutingDriftStatus last = null!;
        for (int second = 0; second < 600; second++)
        {
            DateTimeOffset at = Start.AddSeconds(second + 0.5);
            tracker.Add(second < 200 ? Interval(random, Prose, Prose) : Interval(random, Code, Prose), at);
            last = tracker.Compute(at);
        }
        Assert.False(last.Drifting, $"the shift ended {600 - 200} s ago, longer than both windows, yet PSI is {last.MaxPsi:F3}");
    }

    [Fact]
    public void TooFewChoicesReportNothingRatherThanNoise()
    {
        var tracker = new RoutingDriftTracker(1, 2, new RoutingDriftSettings { MinChoices = 100 });
        tracker.Add([10, 0], Start.AddSeconds(100));
        tracker.Add([0, 10], Start.AddSeconds(150));
        LayerDrift layer = Assert.Single(tracker.Compute(Start.AddSeconds(151)).Layers);
        Assert.False(layer.Sufficient);
        Assert.Equal(0, layer.Psi);
        Assert.Equal((10, 10), (layer.RecentChoices, layer.BaselineChoices));
    }

    [Fact]
    public void CountsOlderThanTheBaselineDoNotCount()
    {
        var settings = new RoutingDriftSettings { MinChoices = 1 };
        var tracker = new RoutingDriftTracker(1, 2, settings);
        tracker.Add([1000, 0], Start);
        DateTimeOffset later = Start + settings.Slot * (settings.RecentSlots + settings.BaselineSlots + 1);
        tracker.Add([0, 5], later);
        LayerDrift layer = Assert.Single(tracker.Compute(later).Layers);
        Assert.Equal((5, 0), (layer.RecentChoices, layer.BaselineChoices));
    }

    /// <summary>One second of routing: each token picks <see cref="TopK"/> distinct experts per layer from the layer's distribution.</summary>
    static long[] Interval(Random random, double[] layer0, double[] layer1)
    {
        var hits = new long[Layers * Experts];
        for (int t = 0; t < TokensPerSecond; t++)
        {
            Pick(random, layer0, hits.AsSpan(0, Experts));
            Pick(random, layer1, hits.AsSpan(Experts, Experts));
        }
        return hits;
    }

    static void Pick(Random random, double[] weights, Span<long> into)
    {
        int first = -1;
        for (int k = 0; k < TopK; k++)
        {
            while (true)
            {
                double u = random.NextDouble(), acc = 0;
                int chosen = weights.Length - 1;
                for (int e = 0; e < weights.Length; e++)
                    if ((acc += weights[e]) > u) { chosen = e; break; }
                if (chosen == first) continue;
                into[chosen]++;
                first = chosen;
                break;
            }
        }
    }
}
