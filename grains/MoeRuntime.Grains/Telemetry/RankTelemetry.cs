using System.Diagnostics;
using System.Reflection;
using MoeRuntime.Model.Generation;
using MoeRuntime.Serving.Dispatch;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>
/// The rank's in-process collector with every handle the serving path records into, registered once.
/// Recording is an Interlocked operation on a preallocated slot: no allocation, no lock.
/// </summary>
public sealed class RankTelemetry : IBatcherObserver, MoeRuntime.Control.Prefetch.IPregatingRecorder
{
    static readonly string[] Routes = ["generate", "stream"];
    readonly CounterHandle[] _succeeded;
    // Failures are labelled by what caused them (RequestFailureLabels); their series are registered when first seen.
    readonly System.Collections.Concurrent.ConcurrentDictionary<(string Route, string Status, string ErrorType), CounterHandle> _failed = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<(string ErrorType, string Severity), CounterHandle> _errors = new();
    readonly System.Collections.Concurrent.ConcurrentDictionary<(string Route, string Reason), CounterHandle> _rejects = new();
    readonly Dictionary<(string Route, string Reason), CounterHandle> _resumed = [];
    readonly SketchHandle[] _duration, _ttft, _tpot, _tokensPerSecond;
    // Trace-id exemplars of the latency histograms, per route; null when the rank keeps none.
    readonly ExemplarHandle[]? _durationExemplars, _ttftExemplars, _tpotExemplars;
    readonly GaugeHandle[] _active;
    readonly GaugeHandle _streams;
    // Step latency by (prefill?, batch size range, context range), registered on first use: the loop alone records them.
    readonly SketchHandle?[,,] _steps = new SketchHandle?[2, MetricLabels.BatchSizeBucket.Values.Count, MetricLabels.ContextLengthBucket.Values.Count];
    readonly SketchHandle _queueWait, _sampler, _tokenizer, _batchSize, _promptLength, _completionLength;
    readonly SketchHandle _attention, _expertCompute, _dispatchIo, _fetchIo;
    // One series per step phase, in StepPhase order.
    readonly SketchHandle[] _phases;
    readonly CounterHandle _quarantinedNan, _quarantinedIntegrity, _quarantinedDigest;
    readonly CounterHandle _prompt, _completion, _streamResets, _retries, _sent, _received, _kvHits, _kvMisses, _integrity, _hedges;
    readonly GaugeHandle _queueDepth, _kvBytes;
    readonly GaugeHandle[] _memory, _capacity;
    // The tier store's evictions and prefetches all concern the hot tier.
    readonly CounterHandle _forced, _planned, _prefetchUsed, _prefetchWasted, _prefetchFailures, _prefetchBytes;
    readonly CounterHandle _intervalsFailed;
    readonly GaugeHandle _residentBytes, _managedHeapBytes;
    readonly TenantTokenCounters _tenants;
    // Pre-gating accuracy per (layer, lookahead), registered on first use.
    readonly System.Collections.Concurrent.ConcurrentDictionary<(int Layer, int Lookahead), (CounterHandle Predicted, CounterHandle Actual, CounterHandle Hits)> _pregating = new();
    TierStoreCounters? _lastStore;

    /// <param name="exemplars">Where traced requests leave their latencies as exemplars for /metrics; null keeps none.</param>
    /// <param name="device">The TorchSharp device type the rank computes on (<c>cpu</c>, <c>cuda</c>), on the compute-time series.</param>
    public RankTelemetry(RankCollector collector, Microsoft.Extensions.Options.IOptions<TelemetryOptions> options, LatencyExemplars? exemplars = null,
        string device = "cpu")
    {
        Collector = collector;
        Enabled = options.Value.Enabled;
        if (exemplars is not null)
        {
            _durationExemplars = Routes.Select(r => exemplars.Register(MoeMetrics.RequestDurationSeconds, r)).ToArray();
            _ttftExemplars = Routes.Select(r => exemplars.Register(MoeMetrics.TimeToFirstTokenSeconds, r)).ToArray();
            _tpotExemplars = Routes.Select(r => exemplars.Register(MoeMetrics.TimePerOutputTokenSeconds, r)).ToArray();
        }
        _succeeded = Routes.Select(r => collector.Counter(MoeMetrics.RequestsTotal, r, "success", "none")).ToArray();
        _duration = Routes.Select(r => collector.Histogram(MoeMetrics.RequestDurationSeconds, r)).ToArray();
        _ttft = Routes.Select(r => collector.Histogram(MoeMetrics.TimeToFirstTokenSeconds, r)).ToArray();
        _tpot = Routes.Select(r => collector.Histogram(MoeMetrics.TimePerOutputTokenSeconds, r)).ToArray();
        _tokensPerSecond = Routes.Select(r => collector.Histogram(MoeMetrics.RequestTokensPerSecond, r)).ToArray();
        _active = Routes.Select(r => collector.Gauge(MoeMetrics.ActiveRequests, r)).ToArray();
        _streams = collector.Gauge(MoeMetrics.ActiveStreams, "stream");
        foreach (string route in Routes)
            foreach (string reason in MetricLabels.ResumeReason.Values)
                _resumed[(route, reason)] = collector.Counter(MoeMetrics.RequestsResumedTotal, route, reason);
        _queueWait = collector.Histogram(MoeMetrics.QueueWaitSeconds, "stream");
        _sampler = collector.Histogram(MoeMetrics.SamplerSeconds);
        _tokenizer = collector.Histogram(MoeMetrics.TokenizerSeconds);
        _batchSize = collector.Histogram(MoeMetrics.BatchSize);
        _promptLength = collector.Histogram(MoeMetrics.TokensPerRequest, "prompt");
        _completionLength = collector.Histogram(MoeMetrics.TokensPerRequest, "completion");
        _attention = collector.Histogram(MoeMetrics.TokenComputeSeconds, "attention", device);
        _expertCompute = collector.Histogram(MoeMetrics.TokenComputeSeconds, "expert", device);
        _dispatchIo = collector.Histogram(MoeMetrics.TokenIoSeconds, "dispatch");
        _fetchIo = collector.Histogram(MoeMetrics.TokenIoSeconds, "tier_fetch");
        _phases = StepBreakdown.PhaseNames.Select(p => collector.Histogram(MoeMetrics.StepPhaseSeconds, p)).ToArray();
        _prompt = collector.Counter(MoeMetrics.TokensTotal, "prompt");
        _completion = collector.Counter(MoeMetrics.TokensTotal, "completion");
        _tenants = new TenantTokenCounters(collector);
        _streamResets = collector.Counter(MoeMetrics.StreamResetsTotal, "stream");
        _retries = collector.Counter(MoeMetrics.RetriesTotal, "stream");
        _sent = collector.Counter(MoeMetrics.DispatchBytesTotal, "sent");
        _received = collector.Counter(MoeMetrics.DispatchBytesTotal, "received");
        _kvHits = collector.Counter(MoeMetrics.KvCacheLookupsTotal, "hit");
        _kvMisses = collector.Counter(MoeMetrics.KvCacheLookupsTotal, "miss");
        _integrity = collector.Counter(MoeMetrics.IntegrityFailuresTotal, "cold");
        _hedges = collector.Counter(MoeMetrics.ExpertCallHedgesTotal);
        _quarantinedNan = collector.Counter(MoeMetrics.ExpertQuarantinedTotal, "nan");
        _quarantinedIntegrity = collector.Counter(MoeMetrics.ExpertQuarantinedTotal, "integrity");
        _quarantinedDigest = collector.Counter(MoeMetrics.ExpertQuarantinedTotal, "digest");
        _queueDepth = collector.Gauge(MoeMetrics.QueueDepth, "stream");
        _kvBytes = collector.Gauge(MoeMetrics.KvCacheBytes);
        string[] tiers = ["hot", "warm", "cold"];
        _memory = tiers.Select(t => collector.Gauge(MoeMetrics.TierMemoryBytes, t)).ToArray();
        _capacity = tiers.Select(t => collector.Gauge(MoeMetrics.TierCapacityBytes, t)).ToArray();
        _forced = collector.Counter(MoeMetrics.EvictionsTotal, "hot", "forced");
        _planned = collector.Counter(MoeMetrics.EvictionsTotal, "hot", "planned");
        _prefetchUsed = collector.Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "used");
        _prefetchWasted = collector.Counter(MoeMetrics.PrefetchOutcomeBytesTotal, "wasted");
        _prefetchFailures = collector.Counter(MoeMetrics.PrefetchFailuresTotal, "cold");
        _prefetchBytes = collector.Counter(MoeMetrics.PrefetchBytesTotal, "hot");
        _intervalsFailed = collector.Counter(MoeMetrics.TelemetryDroppedTotal, "interval_failed");
        _residentBytes = collector.Gauge(MoeMetrics.ProcessMemoryBytes, "resident");
        _managedHeapBytes = collector.Gauge(MoeMetrics.ProcessMemoryBytes, "managed_heap");
    }

    /// <summary>
    /// moe_build_info = 1 for this build on this rank: the version and source commit from the assembly's informational
    /// version (the SDK appends "+commit" when it builds from a git checkout), the backend from the compute device.
    /// </summary>
    public void Built(string backend)
    {
        if (!Enabled) return;
        (string version, string commit) = BuildVersion.Parse(
            typeof(RankTelemetry).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion);
        Collector.Gauge(MoeMetrics.BuildInfo, version, commit, backend).Set(1);
    }

    /// <summary>
    /// moe_model_info = 1 for the checkpoint this rank serves: the operator's revision name (<c>unknown</c> when blank)
    /// and the manifest's SHA-256 (<c>none</c> when the checkpoint has no manifest). The pair is a release marker.
    /// </summary>
    public void Serving(string? revision, string? manifestDigest)
    {
        if (!Enabled) return;
        Collector.Gauge(MoeMetrics.ModelInfo, string.IsNullOrWhiteSpace(revision) ? "unknown" : revision.Trim(),
            string.IsNullOrEmpty(manifestDigest) ? "none" : manifestDigest).Set(1);
    }

    /// <summary>moe_control_decisions_total: one decision recorded in the decision log this rank hosts.</summary>
    public void Decided(string controller, string action)
    {
        if (!Enabled) return;
        Collector.Counter(MoeMetrics.ControlDecisionsTotal, controller, action).Increment();
    }

    /// <summary>Samples the process's memory once an interval: resident set (libtorch's native tensors included) and managed heap.</summary>
    public void ObserveProcess()
    {
        if (!Enabled) return;
        _residentBytes.Set(Environment.WorkingSet);
        _managedHeapBytes.Set(GC.GetTotalMemory(forceFullCollection: false));
    }

    /// <summary>One scored pre-gating prediction (see <see cref="MoeRuntime.Control.Prefetch.PregatingTally"/>): its predicted, chosen and hit expert slots.</summary>
    public void Scored(int layer, int lookahead, int predicted, int actual, int hits)
    {
        if (!Enabled) return;
        if (!_pregating.TryGetValue((layer, lookahead), out var handles))
            handles = _pregating.GetOrAdd((layer, lookahead), RegisterPregating());
        handles.Predicted.Add(predicted);
        handles.Actual.Add(actual);
        handles.Hits.Add(hits);

        (CounterHandle, CounterHandle, CounterHandle) RegisterPregating()
        {
            string l = layer.ToString(System.Globalization.CultureInfo.InvariantCulture);
            string d = lookahead.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return (Collector.Counter(MoeMetrics.PregatingPredictedTotal, l, d), Collector.Counter(MoeMetrics.PregatingActualTotal, l, d),
                Collector.Counter(MoeMetrics.PregatingHitTotal, l, d));
        }
    }

    /// <summary>Counts a telemetry interval that failed to collect or export, so the failure shows on dashboards after its one log line.</summary>
    public void IntervalFailed() => _intervalsFailed.Increment();

    public RankCollector Collector { get; }

    /// <summary>
    /// Start-up phases: the model load (always a cold start: the process loads from disk), split into config, tokenizer and
    /// dense model (<c>model_load</c>) and expert checkpoint plus tier store (<c>cache_init</c>), and the time until the silo
    /// took traffic (<c>ready</c>).
    /// </summary>
    public void Started(TimeSpan modelLoad, TimeSpan storeSetup, TimeSpan untilReady)
    {
        if (!Enabled) return;
        Collector.Histogram(MoeMetrics.ModelLoadSeconds, "cold_start").Record(modelLoad.TotalSeconds);
        Collector.Histogram(MoeMetrics.StartupPhaseSeconds, "model_load").Record((modelLoad - storeSetup).TotalSeconds);
        Collector.Histogram(MoeMetrics.StartupPhaseSeconds, "cache_init").Record(storeSetup.TotalSeconds);
        Collector.Histogram(MoeMetrics.StartupPhaseSeconds, "ready").Record(untilReady.TotalSeconds);
    }

    /// <summary>False when telemetry is switched off: every recording call returns at once.</summary>
    public bool Enabled { get; }

    static int RouteIndex(string route) => route == "generate" ? 0 : 1;

    /// <summary>A client opened a token stream (<c>stream</c> route): counted in <c>moe_active_streams</c> until it closes.</summary>
    public void StreamOpened(string route)
    {
        if (!Enabled || route != "stream") return;
        _streams.Add(1);
    }

    /// <summary>A token stream ended, however it ended (completed, failed, or the client stopped reading).</summary>
    public void StreamClosed(string route)
    {
        if (!Enabled || route != "stream") return;
        _streams.Add(-1);
    }

    public void RequestStarted(string route)
    {
        if (!Enabled) return;
        _active[RouteIndex(route)].Add(1);
    }

    /// <summary>A request a client resumed here with the tokens it already had; <paramref name="reason"/> is normalised.</summary>
    public void RequestResumed(string route, string reason)
    {
        if (!Enabled) return;
        _resumed[(route, reason)].Increment();
    }

    public void Tokenized(TimeSpan elapsed)
    {
        if (!Enabled) return;
        _tokenizer.Record(elapsed.TotalSeconds);
    }

    /// <summary>Time since the previous token of a stream; sampled every N-th position as the catalogue says.</summary>
    /// <param name="span">The request's span: when its trace is sampled (exported), a sampled gap is kept as an exemplar with its trace id.</param>
    public void TokenGap(string route, int index, TimeSpan sincePrevious, Activity? span = null)
    {
        if (!Enabled) return;
        int r = RouteIndex(route);
        _tpot[r].RecordToken(index, sincePrevious.TotalSeconds);
        if (span is { Recorded: true } && _tpotExemplars is not null && _tpot[r].Samples(index))
            _tpotExemplars[r].Offer(sincePrevious.TotalSeconds, span.TraceId, span.SpanId);
    }

    /// <param name="tenantPseudonym">The request's tenant as its pseudonym, for the per-tenant token and cost series.</param>
    /// <param name="span">The request's span: when its trace is sampled (exported), its duration and TTFT are kept as exemplars with its trace id.</param>
    public void RequestSucceeded(string route, string tenantPseudonym, int promptTokens, int completionTokens, TimeSpan duration, TimeSpan firstToken,
        Activity? span = null)
    {
        if (!Enabled) return;
        int r = RouteIndex(route);
        _active[r].Add(-1);
        _succeeded[r].Increment();
        _prompt.Add(promptTokens);
        _completion.Add(completionTokens);
        _tenants.Add(tenantPseudonym, promptTokens, completionTokens);
        _promptLength.Record(promptTokens);
        _completionLength.Record(completionTokens);
        _duration[r].Record(duration.TotalSeconds);
        _ttft[r].Record(firstToken.TotalSeconds);
        if (duration > TimeSpan.Zero) _tokensPerSecond[r].Record(completionTokens / duration.TotalSeconds);
        if (span is { Recorded: true } && _durationExemplars is not null && _ttftExemplars is not null)
        {
            _durationExemplars[r].Offer(duration.TotalSeconds, span.TraceId, span.SpanId);
            _ttftExemplars[r].Offer(firstToken.TotalSeconds, span.TraceId, span.SpanId);
        }
    }

    /// <summary>
    /// A request that failed, labelled by <see cref="RequestFailureLabels.Of"/>; <paramref name="started"/>: the batcher had
    /// taken it (it is counted in <c>moe_active_requests</c>), <paramref name="midStream"/>: the client had tokens of it.
    /// </summary>
    public void RequestFailed(string route, RequestFailureLabels labels, bool started, bool midStream)
    {
        if (!Enabled) return;
        if (started) _active[RouteIndex(route)].Add(-1);
        _failed.GetOrAdd((route, labels.Status, labels.ErrorType),
            static (k, c) => c.Counter(MoeMetrics.RequestsTotal, k.Route, k.Status, k.ErrorType), Collector).Increment();
        _errors.GetOrAdd((labels.ErrorType, labels.Severity),
            static (k, c) => c.Counter(MoeMetrics.ErrorsTotal, k.ErrorType, k.Severity), Collector).Increment();
        if (labels.RejectReason is { } reason) AdmissionRejected(route, reason);
        if (midStream) _streamResets.Increment();
    }

    /// <summary>
    /// Admission refused a request: <c>queue_full</c> (the batcher's queue), <c>shutting_down</c> (the rank drains) or
    /// <c>over_limit</c> (the front door: the tenant is over its request, token or concurrent-stream limit).
    /// </summary>
    public void AdmissionRejected(string route, string reason)
    {
        if (!Enabled) return;
        _rejects.GetOrAdd((route, reason), static (k, c) => c.Counter(MoeMetrics.AdmissionRejectsTotal, k.Route, k.Reason), Collector).Increment();
    }

    public void AttentionComputed(int layer, TimeSpan elapsed, int tokens)
    {
        if (!Enabled) return;
        Collector.RecordLayerCompute(layer, (long)(elapsed.TotalSeconds * 1e9));
        if (tokens > 0) _attention.Record(elapsed.TotalSeconds / tokens);
    }

    /// <summary>The layers the rank's step breakdown has room for; deeper layers are not counted in it.</summary>
    public const int BreakdownLayers = 512;

    /// <summary>Where the rank's steps spent their time, per layer and phase, since it started (see <see cref="StepBreakdown"/>).</summary>
    public StepBreakdown Breakdown { get; } = new(BreakdownLayers);

    /// <summary>One layer of a step before its routed experts: attention (with its norms) and the gate (with any shared expert).</summary>
    public void LayerPhases(int layer, TimeSpan attention, TimeSpan gate)
    {
        if (!Enabled) return;
        _phases[(int)StepPhase.Attention].Record(attention.TotalSeconds);
        _phases[(int)StepPhase.Gate].Record(gate.TotalSeconds);
        if ((uint)layer >= BreakdownLayers) return;
        Breakdown.Add(layer, StepPhase.Attention, (long)(attention.Ticks * TimeSpanToStopwatch));
        Breakdown.Add(layer, StepPhase.Gate, (long)(gate.Ticks * TimeSpanToStopwatch));
    }

    static readonly double TimeSpanToStopwatch = (double)Stopwatch.Frequency / TimeSpan.TicksPerSecond;

    /// <summary>One layer's expert dispatch, split into its phases (<see cref="DispatchTimestamps.Split"/>).</summary>
    public void DispatchTimed(int layer, DispatchTimestamps timestamps)
    {
        if (!Enabled) return;
        Span<long> phases = stackalloc long[StepBreakdown.PhaseCount];
        timestamps.Split(phases);
        for (int p = (int)StepPhase.Serialise; p < phases.Length; p++)
            _phases[p].Record((double)phases[p] / Stopwatch.Frequency);
        if ((uint)layer < BreakdownLayers) Breakdown.AddDispatch(layer, phases);
    }

    public void Admitted(TimeSpan queueWait)
    {
        if (!Enabled) return;
        _queueWait.Record(queueWait.TotalSeconds);
    }

    public void StepCompleted(int sequences, int prefills, int newTokens, long cachedPositions, TimeSpan forward, TimeSpan sampling, long kvCacheBytes,
        int longestContext)
    {
        if (!Enabled) return;
        StepLatency(prefills > 0, sequences, longestContext).Record(forward.TotalSeconds);
        _sampler.Record(sampling.TotalSeconds);
        _batchSize.Record(sequences);
        _kvHits.Add(cachedPositions);
        _kvMisses.Add(newTokens);
        _kvBytes.Set(kvCacheBytes);
    }

    SketchHandle StepLatency(bool prefill, int sequences, int longestContext)
    {
        string batch = MetricLabels.BatchSizeOf(Math.Max(1, sequences)), context = MetricLabels.ContextLengthOf(Math.Max(1, longestContext));
        int b = IndexOf(MetricLabels.BatchSizeBucket.Values, batch), c = IndexOf(MetricLabels.ContextLengthBucket.Values, context);
        return _steps[prefill ? 1 : 0, b, c] ??= Collector.Histogram(prefill ? MoeMetrics.PrefillSeconds : MoeMetrics.DecodeStepSeconds, batch, context);
    }

    static int IndexOf(IReadOnlyList<string> values, string value)
    {
        for (int i = 0; i < values.Count; i++)
            if (ReferenceEquals(values[i], value) || values[i] == value) return i;
        throw new ArgumentException($"'{value}' is not a catalogued value", nameof(value));
    }

    public void QueueDepth(int depth)
    {
        if (!Enabled) return;
        _queueDepth.Set(depth);
    }

    /// <summary>One layer's expert calls: activations sent and received, and how long the calls took.</summary>
    public void Dispatched(long bytesSent, long bytesReceived, TimeSpan elapsed, int tokens)
    {
        if (!Enabled) return;
        _sent.Add(bytesSent);
        _received.Add(bytesReceived);
        if (tokens > 0) _dispatchIo.Record(elapsed.TotalSeconds / tokens);
    }

    public void ExpertRetry()
    {
        if (!Enabled) return;
        _retries.Increment();
    }

    /// <summary>An expert call to another rank, unanswered within the hedge delay, also sent to the copy on this rank.</summary>
    public void ExpertHedged()
    {
        if (!Enabled) return;
        _hedges.Increment();
    }

    /// <summary>One expert call on this rank: its tokens, compute time, and where its weights were found.</summary>
    public void ExpertComputed(ExpertKey key, int tokens, TimeSpan compute, Tier foundIn, TimeSpan fetch)
    {
        if (!Enabled) return;
        Collector.RecordExpertHits(key.Layer, key.Expert, tokens);
        Collector.RecordExpertCompute(key.Layer, key.Expert, (long)(compute.TotalSeconds * 1e9));
        Collector.RecordTierAccess(key.Layer, StorageTierOf(foundIn), (long)(fetch.TotalSeconds * 1e9));
        if (tokens > 0)
        {
            _expertCompute.Record(compute.TotalSeconds / tokens);
            if (foundIn != Tier.Hot) _fetchIo.Record(fetch.TotalSeconds / tokens);
        }
    }

    public void IntegrityFailed()
    {
        if (!Enabled) return;
        _integrity.Increment();
    }

    /// <summary>
    /// An expert copy was quarantined: NaN/infinity in its output (<c>nan</c>), bytes differing from the checkpoint's
    /// manifest (<c>digest</c>) or from those hashed at registration (<c>integrity</c>).
    /// </summary>
    public void ExpertQuarantined(QuarantineReason reason)
    {
        if (!Enabled) return;
        (reason switch { QuarantineReason.Nan => _quarantinedNan, QuarantineReason.Digest => _quarantinedDigest, _ => _quarantinedIntegrity }).Increment();
    }

    /// <summary>Copies the tier store's state: memory and budgets as gauges, its counters as deltas since the last call.</summary>
    public void ObserveStore(TierStoreSnapshot snapshot)
    {
        if (!Enabled) return;
        _memory[0].Set(snapshot.Hot.UsedBytes);
        _memory[1].Set(snapshot.Warm.UsedBytes);
        _memory[2].Set(snapshot.Experts.Where(e => e.Resident == Tier.Cold).Sum(e => e.WarmBytes));
        _capacity[0].Set(snapshot.Hot.BudgetBytes);
        _capacity[1].Set(snapshot.Warm.BudgetBytes);
        TierStoreCounters c = snapshot.Counters, last = _lastStore ?? new TierStoreCounters();
        _lastStore = c;
        _forced.Add(c.ForcedEvictions - last.ForcedEvictions);
        _planned.Add(c.PlannedEvictions - last.PlannedEvictions);
        long bytesPerPrefetch = snapshot.Experts.Count == 0 ? 0 : snapshot.Experts[0].HotBytes;
        _prefetchUsed.Add((c.PrefetchUsed - last.PrefetchUsed) * bytesPerPrefetch);
        _prefetchWasted.Add((c.PrefetchWasted - last.PrefetchWasted) * bytesPerPrefetch);
        _prefetchFailures.Add(c.PrefetchFailures - last.PrefetchFailures);
        // Skipped hints are not issued ones (the store counts each hint once, as one or the other): only issued hints move bytes.
        _prefetchBytes.Add((c.PrefetchIssued - last.PrefetchIssued) * bytesPerPrefetch);
    }

    /// <summary>The telemetry's name for a store tier; the two enums are mapped by name, never by their order.</summary>
    internal static StorageTier StorageTierOf(Tier tier) => tier switch
    {
        Tier.Hot => StorageTier.Hot,
        Tier.Warm => StorageTier.Warm,
        Tier.Cold => StorageTier.Cold,
        _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, $"not a tier ({TierNames.Expected})"),
    };
}
