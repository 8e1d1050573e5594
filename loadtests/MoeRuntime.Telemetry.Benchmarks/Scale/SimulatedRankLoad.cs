using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>
/// One rank of the scale run: a 32-layer × 8-expert collector that records an interval of serving
/// traffic (ten latency sketches of a few hundred values, request, token, byte and cache counters,
/// tier gauges, all six matrices) and hands back the encoded summary its agent would send.
/// </summary>
internal sealed class SimulatedRankLoad
{
    public const int Layers = 32, Experts = 8;
    const int ValuesPerSketch = 300;

    readonly RankCollector _collector;
    readonly Random _random;
    readonly SketchHandle[] _latencies;
    readonly CounterHandle _ok, _errors, _prompt, _completion, _sent, _received, _used, _wasted, _kvHit, _kvMiss;

    public SimulatedRankLoad(int rank, TimeProvider clock)
    {
        _random = new Random(rank);
        // No routing digests here: they travel in a separate call to the shard (ReportDigestsAsync).
        _collector = new RankCollector(new RankCollectorOptions
        {
            RankId = $"rank-{rank}", Model = "bench-moe", Layers = Layers, Experts = Experts, DigestCapacity = 16, Clock = clock,
        });
        _latencies =
        [
            _collector.Histogram(MoeMetrics.RequestDurationSeconds, "stream"),
            _collector.Histogram(MoeMetrics.TimeToFirstTokenSeconds, "stream"),
            _collector.Histogram(MoeMetrics.TimePerOutputTokenSeconds, "stream"),
            _collector.Histogram(MoeMetrics.QueueWaitSeconds, "stream"),
            _collector.Histogram(MoeMetrics.PrefillSeconds),
            _collector.Histogram(MoeMetrics.DecodeStepSeconds),
            _collector.Histogram(MoeMetrics.TokenComputeSeconds, "attention"),
            _collector.Histogram(MoeMetrics.TokenComputeSeconds, "expert"),
            _collector.Histogram(MoeMetrics.TokenIoSeconds, "dispatch"),
            _collector.Histogram(MoeMetrics.SamplerSeconds),
        ];
        _ok = _collector.Counter(MoeMetrics.RequestsTotal, "stream", "success", "none");
        _errors = _collector.Counter(MoeMetrics.RequestsTotal, "stream", "timeout", "timeout");
        _prompt = _collector.Counter(MoeMetrics.TokensTotal, "prompt");
        _completion = _collector.Counter(MoeMetrics.TokensTotal, "completion");
        _sent = _collector.Counter(MoeMetrics.DispatchBytesTotal, "sent");
        _received = _collector.Counter(MoeMetrics.DispatchBytesTotal, "received");
        _used = _collector.Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "used");
        _wasted = _collector.Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "wasted");
        _kvHit = _collector.Counter(MoeMetrics.KvCacheLookupsTotal, "hit");
        _kvMiss = _collector.Counter(MoeMetrics.KvCacheLookupsTotal, "miss");
        foreach (string tier in new[] { "hot", "warm", "cold" })
        {
            _collector.Gauge(MoeMetrics.TierMemoryBytes, tier).Set(_random.Next(1, 1 << 30));
            _collector.Gauge(MoeMetrics.TierCapacityBytes, tier).Set(1 << 30);
        }
        _collector.Gauge(MoeMetrics.KvCacheBytes).Set(_random.Next(1, 1 << 28));
    }

    /// <summary>Records one interval of traffic and returns its encoded summary.</summary>
    public byte[] NextInterval()
    {
        foreach (SketchHandle sketch in _latencies)
        {
            // Lognormal around a per-series scale, as latencies are.
            double scale = Math.Exp(-8 + 8 * _random.NextDouble());
            for (int i = 0; i < ValuesPerSketch; i++) sketch.Record(scale * Math.Exp(0.7 * Normal()));
        }
        _ok.Add(_random.Next(20, 40));
        _errors.Add(_random.Next(0, 2));
        _prompt.Add(_random.Next(2_000, 8_000));
        _completion.Add(_random.Next(500, 2_000));
        _sent.Add(_random.Next(1 << 20, 1 << 24));
        _received.Add(_random.Next(1 << 20, 1 << 24));
        _used.Add(_random.Next(1 << 20));
        _wasted.Add(_random.Next(1 << 18));
        _kvHit.Add(_random.Next(10, 30));
        _kvMiss.Add(_random.Next(1, 10));
        for (int layer = 0; layer < Layers; layer++)
        {
            _collector.RecordLayerCompute(layer, _random.Next(100_000, 2_000_000));
            for (int expert = 0; expert < Experts; expert++)
            {
                _collector.RecordExpertHits(layer, expert, _random.Next(50, 500));
                _collector.RecordExpertCompute(layer, expert, _random.Next(10_000, 1_000_000));
            }
            for (int call = 0; call < 8; call++)
            {
                var tier = (StorageTier)(call % 3);
                _collector.RecordTierAccess(layer, tier, tier == StorageTier.Hot ? 0 : _random.Next(100_000, 50_000_000));
            }
        }
        return SummaryCodec.Encode(_collector.CollectSummary());
    }

    double Normal() => Math.Sqrt(-2 * Math.Log(1 - _random.NextDouble())) * Math.Cos(2 * Math.PI * _random.NextDouble());
}
