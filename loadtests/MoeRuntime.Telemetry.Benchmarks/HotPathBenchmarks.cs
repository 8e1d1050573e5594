using BenchmarkDotNet.Attributes;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Telemetry.Benchmarks;

/// <summary>
/// One recording call per operation, as the serving path makes it. Each invocation runs a batch of
/// calls over varied inputs so that the timing is not one repeated, perfectly predicted value.
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private const int Batch = 1024;

    private readonly double[] _latencies = new double[Batch];
    private readonly int[] _experts = new int[Batch];
    private RankCollector _collector = null!;
    private CounterHandle _counter;
    private SketchHandle _sketch;
    private SketchHandle _sampled;

    /// <summary>Registers the series once, as components do at start-up.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _collector = new RankCollector(new RankCollectorOptions { RankId = "bench", Model = "bench", Layers = 32, Experts = 8 });
        _counter = _collector.Counter(MoeMetrics.TokensTotal, "completion");
        _sketch = _collector.Histogram(MoeMetrics.TimePerOutputTokenSeconds, "stream");
        _sampled = _collector.Histogram(MoeMetrics.TokenComputeSeconds, "expert");
        var random = new Random(1);
        for (var i = 0; i < Batch; i++)
        {
            _latencies[i] = Math.Exp(-5 + 3 * random.NextDouble());
            _experts[i] = random.Next(8);
        }
    }

    /// <summary>Counter increment.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void CounterIncrement()
    {
        for (var i = 0; i < Batch; i++) _counter.Increment();
    }

    /// <summary>One observation into a relative-error sketch.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void SketchRecord()
    {
        var values = _latencies;
        for (var i = 0; i < values.Length; i++) _sketch.Record(values[i]);
    }

    /// <summary>A per-token observation of a sampled metric (1 in 16 recorded).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void SampledTokenRecord()
    {
        var values = _latencies;
        for (var i = 0; i < values.Length; i++) _sampled.RecordToken(i, values[i]);
    }

    /// <summary>One token routed to one expert: a cell of the layer × expert matrix.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void ExpertHitRecord()
    {
        var experts = _experts;
        for (var i = 0; i < experts.Length; i++) _collector.RecordExpertHits(i & 31, experts[i]);
    }

    /// <summary>One expert call's tier access (hit/miss cells, and a fetch sketch below hot).</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void TierAccessRecord()
    {
        var experts = _experts;
        for (var i = 0; i < experts.Length; i++) _collector.RecordTierAccess(i & 31, (StorageTier)(experts[i] % 3), 250_000);
    }

    /// <summary>Hashing a top-2 choice into a routing digest.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public ulong DigestCompute()
    {
        ulong last = 0;
        Span<int> chosen = stackalloc int[2];
        Span<float> weights = stackalloc float[2];
        var experts = _experts;
        for (var i = 0; i < experts.Length; i++)
        {
            (chosen[0], chosen[1]) = (experts[i], (experts[i] + 1) & 7);
            (weights[0], weights[1]) = (0.75f, 0.25f);
            last ^= RoutingDigest.Compute(chosen, weights);
        }
        return last;
    }

    /// <summary>Putting one routing digest into the rank's ring.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void DigestRecord()
    {
        var experts = _experts;
        for (var i = 0; i < experts.Length; i++) _collector.RecordRoutingDigest(0xABCDEF, i & 31, i, (ulong)experts[i]);
    }
}
