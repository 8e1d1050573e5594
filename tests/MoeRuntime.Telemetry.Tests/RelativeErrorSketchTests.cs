using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Tests;

public class RelativeErrorSketchTests
{
    private static readonly double[] Quantiles = [0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

    public static TheoryData<string> Distributions => ["uniform", "lognormal", "exponential", "pareto", "bimodal"];

    internal static double[] Sample(string distribution, int count, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var values = new double[count];
        for (var i = 0; i < count; i++)
        {
            values[i] = distribution switch
            {
                "uniform" => 0.001 + random.NextDouble(),
                "lognormal" => Math.Exp(-3 + 1.5 * Normal()),
                "exponential" => -0.05 * Math.Log(1 - random.NextDouble()),
                "pareto" => 0.002 / Math.Pow(1 - random.NextDouble(), 1 / 1.2),
                "bimodal" => random.Next(2) == 0 ? 0.002 + 0.0005 * random.NextDouble() : 3 + random.NextDouble(),
                _ => throw new ArgumentOutOfRangeException(nameof(distribution)),
            };
            values[i] = Math.Clamp(values[i], 1e-5, 1000); // keep inside the layout: clamping is tested apart
        }
        return values;
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void QuantilesAreWithinTheRelativeAccuracy(string distribution)
    {
        var values = Sample(distribution, 100_000, seed: 7);
        var sketch = new RelativeErrorSketch(SketchLayout.Latency);
        foreach (var v in values) sketch.Record(v);
        Array.Sort(values);

        foreach (var q in Quantiles)
        {
            var exact = values[(int)Math.Floor(q * (values.Length - 1))];
            var estimate = sketch.Quantile(q);
            Assert.True(Math.Abs(estimate - exact) <= 0.01 * exact * (1 + 1e-9),
                $"{distribution} q={q}: sketch {estimate}, exact {exact}, error {Math.Abs(estimate - exact) / exact:P3}");
        }
        Assert.Equal(values.Length, sketch.Count);
        Assert.Equal(values[0], sketch.Min);
        Assert.Equal(values[^1], sketch.Max);
        Assert.Equal(values.Sum(), sketch.Sum, 1e-6 * values.Sum());
    }

    [Theory]
    [MemberData(nameof(Distributions))]
    public void MergingPartsEqualsRecordingEverythingIntoOne(string distribution)
    {
        var values = Sample(distribution, 50_000, seed: 11);
        var whole = new RelativeErrorSketch(SketchLayout.Latency);
        var parts = Enumerable.Range(0, 5).Select(_ => new RelativeErrorSketch(SketchLayout.Latency)).ToArray();
        for (var i = 0; i < values.Length; i++)
        {
            whole.Record(values[i]);
            parts[i % parts.Length].Record(values[i]);
        }
        var merged = new RelativeErrorSketch(SketchLayout.Latency);
        foreach (var part in parts) merged.Merge(part);

        Assert.True(whole.Buckets.SequenceEqual(merged.Buckets));
        Assert.Equal(whole.Count, merged.Count);
        Assert.Equal(whole.Min, merged.Min);
        Assert.Equal(whole.Max, merged.Max);
        Assert.Equal(whole.Sum, merged.Sum, 1e-9 * whole.Sum);
        foreach (var q in Quantiles) Assert.Equal(whole.Quantile(q), merged.Quantile(q));
    }

    [Fact]
    public void MergingSketchesOfDifferentAccuracyOrRangeThrows()
    {
        var latency = new RelativeErrorSketch(SketchLayout.Latency);
        var coarser = new RelativeErrorSketch(new SketchLayout(0.02, 1e-6, 3600));
        var narrower = new RelativeErrorSketch(new SketchLayout(0.01, 1e-3, 3600));
        var error = Assert.Throws<ArgumentException>(() => latency.Merge(coarser));
        Assert.Contains("layout", error.Message);
        Assert.Throws<ArgumentException>(() => latency.Merge(narrower));
        latency.Merge(new RelativeErrorSketch(new SketchLayout(0.01, 1e-6, 3600))); // equal layouts merge
    }

    [Fact]
    public void ValuesOutsideTheRangeClampAndAreCounted()
    {
        var sketch = new RelativeErrorSketch(SketchLayout.Latency);
        sketch.Record(1e-9);
        sketch.Record(7200);
        sketch.Record(0);
        sketch.Record(-1);
        sketch.Record(double.NaN);
        Assert.Equal(4, sketch.Count);
        Assert.Equal(1, sketch.UnderflowCount);
        Assert.Equal(1, sketch.OverflowCount);
        Assert.Equal(2, sketch.ZeroCount);
        Assert.Equal(1, sketch.Buckets[0]);
        Assert.Equal(1, sketch.Buckets[^1]);
        Assert.Equal(7200, sketch.Quantile(1)); // the exact max bounds the clamped edge bucket
        Assert.Equal(-1, sketch.Quantile(0));
    }

    [Fact]
    public void ADeltaWithASumButNoCountStillMerges()
    {
        // What a snapshot racing a record can produce: the record's totals without its bucket.
        var straddling = RelativeErrorSketch.FromParts(SketchLayout.Latency, 0, 0, 0, sum: 0.25, min: 0.25, max: 0.25, 0, []);
        Assert.False(straddling.IsEmpty);
        var total = new RelativeErrorSketch(SketchLayout.Latency);
        total.Record(1);
        total.Merge(straddling);
        Assert.Equal((1, 1.25, 0.25, 1.0), (total.Count, total.Sum, total.Min, total.Max));
    }

    [Fact]
    public void AnEmptySketchHasNoQuantile()
    {
        var sketch = new RelativeErrorSketch(SketchLayout.Latency);
        Assert.True(double.IsNaN(sketch.Quantile(0.5)));
        Assert.Throws<ArgumentOutOfRangeException>(() => sketch.Quantile(1.5));
    }

    [Fact]
    public void TheLatencyLayoutCoversAMicrosecondToAnHourInAboutElevenHundredBuckets()
    {
        var layout = SketchLayout.Latency;
        Assert.InRange(layout.BucketCount, 1000, 1200);
        Assert.Equal(0, layout.OffsetOf(1e-6));
        Assert.Equal(layout.BucketCount - 1, layout.OffsetOf(3600));
        for (var offset = 0; offset < layout.BucketCount; offset += 37)
        {
            var representative = layout.ValueOf(offset);
            Assert.Equal(offset, layout.OffsetOf(representative));
        }
    }

    [Fact]
    public void LayoutsRefuseNonsense()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SketchLayout(0, 1e-6, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SketchLayout(0.01, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SketchLayout(0.0000001, 1e-300, 1e300));
    }
}
