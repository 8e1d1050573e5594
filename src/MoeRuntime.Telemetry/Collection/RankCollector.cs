using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// One rank's in-process collector for one model. Components register their series once (taking
/// <see cref="CounterHandle"/>, <see cref="GaugeHandle"/> and <see cref="SketchHandle"/> values) and
/// then record on the hot path with Interlocked operations on preallocated slots; the layer × expert
/// and tier × layer matrices and the routing-digest ring work the same way. Each interval,
/// <see cref="CollectSummary"/> turns what changed into a <see cref="RankSummary"/>.
/// Registration and collection take a lock; recording never does.
/// </summary>
public sealed class RankCollector
{
    private sealed record ScalarSeries(MetricDefinition Metric, string[] Labels, int Slot);

    private sealed record SketchSeries(MetricDefinition Metric, string[] Labels, ConcurrentSketchRecorder Recorder);

    private readonly RankCollectorOptions _options;
    private readonly CardinalityGuard _guard = new();
    private readonly object _gate = new();

    private readonly long[] _counterSlots;
    private readonly long[] _reportedCounters;
    private readonly List<ScalarSeries> _counters = [];
    private readonly long[] _gaugeSlots;
    private readonly List<ScalarSeries> _gauges = [];
    private readonly List<SketchSeries> _sketches = [];
    private readonly Dictionary<string, object> _registered = new(StringComparer.Ordinal);
    private readonly ConcurrentSketchRecorder _discardedSketch;

    private readonly DeltaMatrix _expertHits;
    private readonly DeltaMatrix _expertComputeNanos;
    private readonly DeltaMatrix _layerComputeNanos;
    private readonly DeltaMatrix _tierHits;
    private readonly DeltaMatrix _tierMisses;
    private readonly DeltaMatrix _tierFetchNanos;
    private readonly SketchHandle[] _tierFetchSeconds = new SketchHandle[StorageTiers.Count];
    private readonly RoutingDigestRing _digests;
    private long _reportedDigestOverwrites;

    private readonly CounterHandle _droppedOverCap;
    private readonly CounterHandle _droppedDigests;

    private long _sequence;
    private DateTimeOffset _intervalStart;

    /// <summary>Creates the collector with every slot it will ever use.</summary>
    public RankCollector(RankCollectorOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(options.RankId);
        ArgumentException.ThrowIfNullOrEmpty(options.Model);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Layers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Experts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SampleEveryNTokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxDigestsPerSummary, 0);
        _options = options;

        // One slot per series the catalogue allows, plus a discard slot for handles refused by the guard.
        var seriesMetrics = MoeMetrics.All.Where(m => m.Source == MetricSource.Series).ToList();
        _counterSlots = new long[seriesMetrics.Where(m => m.Kind == MetricKind.Counter).Sum(m => m.MaxSeries) + 1];
        _reportedCounters = new long[_counterSlots.Length];
        _gaugeSlots = new long[seriesMetrics.Where(m => m.Kind == MetricKind.Gauge).Sum(m => m.MaxSeries) + 1];
        _discardedSketch = new ConcurrentSketchRecorder(options.DurationLayout);

        var (layers, experts) = (options.Layers, options.Experts);
        _expertHits = new DeltaMatrix(layers, experts);
        _expertComputeNanos = new DeltaMatrix(layers, experts);
        _layerComputeNanos = new DeltaMatrix(1, layers);
        _tierHits = new DeltaMatrix(StorageTiers.Count, layers);
        _tierMisses = new DeltaMatrix(StorageTiers.Count, layers);
        _tierFetchNanos = new DeltaMatrix(StorageTiers.Count, layers);
        _digests = new RoutingDigestRing(options.DigestCapacity);

        _droppedOverCap = Counter(MoeMetrics.TelemetryDroppedTotal, "series_cap");
        _droppedDigests = Counter(MoeMetrics.TelemetryDroppedTotal, "digest_overflow");
        foreach (var fetched in new[] { StorageTier.Warm, StorageTier.Cold })
            _tierFetchSeconds[(int)fetched] = Histogram(MoeMetrics.TierFetchSeconds, StorageTiers.LabelOf(fetched));

        _intervalStart = options.Clock.GetUtcNow();
    }

    /// <summary>The options the collector was built with.</summary>
    public RankCollectorOptions Options => _options;

    /// <summary>Label sets refused by the cardinality guard so far.</summary>
    public long RefusedSeries => _guard.Refused;

    /// <summary>
    /// The counter series of <paramref name="metric"/> with these label values (in the catalogue's
    /// label order). Registering the same series again returns the same slot. Over the metric's
    /// series cap the handle records nowhere and the refusal is counted.
    /// </summary>
    public CounterHandle Counter(MetricDefinition metric, params string[] labelValues)
    {
        var slot = RegisterScalar(metric, MetricKind.Counter, labelValues, _counters);
        return new CounterHandle(_counterSlots, slot);
    }

    /// <summary>The gauge series of <paramref name="metric"/>; see <see cref="Counter"/> for the rules.</summary>
    public GaugeHandle Gauge(MetricDefinition metric, params string[] labelValues)
    {
        var slot = RegisterScalar(metric, MetricKind.Gauge, labelValues, _gauges);
        return new GaugeHandle(_gaugeSlots, slot);
    }

    /// <summary>The distribution series of <paramref name="metric"/>; see <see cref="Counter"/> for the rules.</summary>
    public SketchHandle Histogram(MetricDefinition metric, params string[] labelValues)
    {
        var sampleEvery = metric.SampledPerToken ? _options.SampleEveryNTokens : 1;
        lock (_gate)
        {
            CheckRecordable(metric, MetricKind.Histogram);
            var key = KeyOf(metric, labelValues);
            if (_registered.TryGetValue(key, out var known)) return new SketchHandle(((SketchSeries)known).Recorder, sampleEvery);
            if (!_guard.TryAdmit(metric, labelValues))
            {
                _droppedOverCap.Increment();
                return new SketchHandle(_discardedSketch, sampleEvery);
            }
            var layout = metric.Unit == "s" ? _options.DurationLayout : _options.MagnitudeLayout;
            var series = new SketchSeries(metric, (string[])labelValues.Clone(), new ConcurrentSketchRecorder(layout));
            _sketches.Add(series);
            _registered[key] = series;
            return new SketchHandle(series.Recorder, sampleEvery);
        }
    }

    /// <summary>Counts <paramref name="tokens"/> tokens the gate routed to <paramref name="expert"/> of <paramref name="layer"/>.</summary>
    public void RecordExpertHits(int layer, int expert, long tokens = 1) =>
        _expertHits.Add(CheckLayer(layer), CheckExpert(expert), tokens);

    /// <summary>Adds compute time of one expert's FFN call.</summary>
    public void RecordExpertCompute(int layer, int expert, long nanoseconds) =>
        _expertComputeNanos.Add(CheckLayer(layer), CheckExpert(expert), nanoseconds);

    /// <summary>Adds compute time spent in one layer (attention, gate, experts, combine).</summary>
    public void RecordLayerCompute(int layer, long nanoseconds) =>
        _layerComputeNanos.Add(0, CheckLayer(layer), nanoseconds);

    /// <summary>
    /// Records one expert call at <paramref name="layer"/> whose weights were found in
    /// <paramref name="servedFrom"/>: a hit there, a miss in every faster tier, and for warm and
    /// cold the fetch time (matrix and per-tier distribution).
    /// </summary>
    public void RecordTierAccess(int layer, StorageTier servedFrom, long fetchNanoseconds = 0)
    {
        CheckLayer(layer);
        var tier = (int)servedFrom;
        if ((uint)tier >= StorageTiers.Count) throw new ArgumentOutOfRangeException(nameof(servedFrom));
        _tierHits.Add(tier, layer, 1);
        for (var faster = 0; faster < tier; faster++) _tierMisses.Add(faster, layer, 1);
        if (servedFrom == StorageTier.Hot) return;
        _tierFetchNanos.Add(tier, layer, fetchNanoseconds);
        _tierFetchSeconds[tier].Record(fetchNanoseconds * 1e-9);
    }

    /// <summary>Records the routing digest of one token at one layer (see <see cref="RoutingDigest"/>).</summary>
    public void RecordRoutingDigest(ulong requestHash, int layer, int tokenPosition, ulong digest) =>
        _digests.Add(requestHash, layer, tokenPosition, digest);

    /// <summary>
    /// Builds the summary of everything recorded since the previous call: counter deltas, the last
    /// gauge values, sketch deltas, matrix deltas, the routing digests drained from the ring and the
    /// cost estimates of the interval.
    /// </summary>
    public RankSummary CollectSummary()
    {
        lock (_gate)
        {
            var end = _options.Clock.GetUtcNow();
            var start = _intervalStart;
            _intervalStart = end;

            var digests = new List<RoutingDigestRecord>();
            _digests.Drain(digests, _options.MaxDigestsPerSummary);
            _droppedDigests.Add(_digests.Overwritten - _reportedDigestOverwrites);
            _reportedDigestOverwrites = _digests.Overwritten;

            var counters = new List<CounterDelta>();
            foreach (var series in _counters)
            {
                var total = Volatile.Read(ref _counterSlots[series.Slot]);
                var delta = total - _reportedCounters[series.Slot];
                _reportedCounters[series.Slot] = total;
                if (delta != 0) counters.Add(new CounterDelta(series.Metric, series.Labels, delta));
            }
            var gauges = _gauges
                .Select(g => new GaugeValue(g.Metric, g.Labels, BitConverter.Int64BitsToDouble(Volatile.Read(ref _gaugeSlots[g.Slot]))))
                .ToList();
            AddCosts(counters, gauges, end - start);

            var sketches = new List<SketchDelta>();
            foreach (var series in _sketches)
            {
                var delta = series.Recorder.TakeDelta();
                if (!delta.IsEmpty) sketches.Add(new SketchDelta(series.Metric, series.Labels, delta));
            }

            return new RankSummary
            {
                RankId = _options.RankId,
                Model = _options.Model,
                Sequence = ++_sequence,
                IntervalStart = start,
                IntervalEnd = end,
                SampleEveryNTokens = _options.SampleEveryNTokens,
                Counters = counters,
                Gauges = gauges,
                Sketches = sketches,
                ExpertHits = _expertHits.TakeDelta(),
                ExpertComputeNanoseconds = _expertComputeNanos.TakeDelta(),
                LayerComputeNanoseconds = _layerComputeNanos.TakeDelta(),
                TierHits = _tierHits.TakeDelta(),
                TierMisses = _tierMisses.TakeDelta(),
                TierFetchNanoseconds = _tierFetchNanos.TakeDelta(),
                RoutingDigests = digests,
            };
        }
    }

    private void AddCosts(List<CounterDelta> counters, List<GaugeValue> gauges, TimeSpan interval)
    {
        var rates = _options.Costs;
        foreach (var tokens in counters.Where(c => c.Metric == MoeMetrics.TokensTotal).ToList())
        {
            var per1k = tokens.Labels[0] == "prompt" ? rates.PromptUsdPer1kTokens : rates.CompletionUsdPer1kTokens;
            if (per1k > 0) counters.Add(new CounterDelta(MoeMetrics.TokenCostUsdTotal, tokens.Labels, tokens.Delta / 1000 * per1k));
        }
        foreach (var tokens in counters.Where(c => c.Metric == MoeMetrics.TenantTokensTotal).ToList())
        {
            var per1k = tokens.Labels[1] == "prompt" ? rates.PromptUsdPer1kTokens : rates.CompletionUsdPer1kTokens;
            if (per1k > 0) counters.Add(new CounterDelta(MoeMetrics.TenantTokenCostUsdTotal, tokens.Labels, tokens.Delta / 1000 * per1k));
        }
        foreach (var memory in gauges.Where(g => g.Metric == MoeMetrics.TierMemoryBytes))
        {
            var tier = Enum.GetValues<StorageTier>().Single(t => StorageTiers.LabelOf(t) == memory.Labels[0]);
            var usd = memory.Value / 1e9 * interval.TotalHours * rates.UsdPerGbHour(tier);
            if (usd > 0) counters.Add(new CounterDelta(MoeMetrics.TierCostUsdTotal, memory.Labels, usd));
        }
    }

    private int RegisterScalar(MetricDefinition metric, MetricKind kind, string[] labelValues, List<ScalarSeries> registry)
    {
        lock (_gate)
        {
            CheckRecordable(metric, kind);
            var key = KeyOf(metric, labelValues);
            if (_registered.TryGetValue(key, out var known)) return ((ScalarSeries)known).Slot;
            var discardSlot = (kind == MetricKind.Counter ? _counterSlots : _gaugeSlots).Length - 1;
            if (!_guard.TryAdmit(metric, labelValues))
            {
                _droppedOverCap.Increment();
                return discardSlot;
            }
            var series = new ScalarSeries(metric, (string[])labelValues.Clone(), registry.Count);
            registry.Add(series);
            _registered[key] = series;
            return series.Slot;
        }
    }

    private static void CheckRecordable(MetricDefinition metric, MetricKind kind)
    {
        // Slots are sized from the catalogue, so only its own definitions may take one.
        if (!MoeMetrics.TryGet(metric.Name, out var catalogued) || !ReferenceEquals(catalogued, metric))
            throw new ArgumentException($"{metric.Name} is not in the catalogue (MoeMetrics).", nameof(metric));
        if (metric.Kind != kind)
            throw new ArgumentException($"{metric.Name} is a {metric.Kind}, not a {kind}.", nameof(metric));
        if (metric.Source != MetricSource.Series)
            throw new ArgumentException($"{metric.Name} is {metric.Source.ToString().ToLowerInvariant()}, not recorded through a handle.", nameof(metric));
    }

    private static string KeyOf(MetricDefinition metric, string[] labelValues) =>
        metric.Name + "\u001e" + string.Join('\u001f', labelValues);

    private int CheckLayer(int layer) =>
        (uint)layer < (uint)_options.Layers ? layer : throw new ArgumentOutOfRangeException(nameof(layer), layer, null);

    private int CheckExpert(int expert) =>
        (uint)expert < (uint)_options.Experts ? expert : throw new ArgumentOutOfRangeException(nameof(expert), expert, null);
}
