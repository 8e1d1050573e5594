using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Cost;
using MoeRuntime.Traces;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// The rank's batching engine behind its router grain: one continuous batcher over the dense model,
/// with experts reached through their grains. It outlives router activations and drains when the
/// silo stops, before the silo stops taking messages.
/// </summary>
public sealed partial class RouterRuntime : ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    /// <summary>How long a stopping rank waits for its router grains to end the requests the batcher finished or failed.</summary>
    /// <summary>The most layers ahead whose predictions are scored (the bound of the <c>lookahead</c> label).</summary>
    const int PregatingMaxLookahead = 8;
    static readonly TimeSpan EndGrace = TimeSpan.FromSeconds(5);
    /// <summary>How long a stopping rank then keeps answering, for the polls that collect those ends.</summary>
    static readonly TimeSpan LastPollGrace = TimeSpan.FromSeconds(2);

    readonly ILogger<RouterRuntime> _logger;
    readonly RoutingTraceRecorder? _trace;
    readonly TimeSpan _drainTimeout;
    int _traceClosed;
    int _openRequests;
    readonly IDisposable? _reloads;
    readonly int _warmupRequests, _warmupBatch;
    bool _warming;
    Task? _warmupTask;

    public RouterRuntime(ModelHost host, IGrainFactory grains, RankTelemetry telemetry, PlacementMapCache placement, PrefetchSettingsCache prefetch,
        TelemetrySamplingCache sampling, RankDirectory ranks, ExpertExecutor executor, IOptions<MoeSiloOptions> options, ILoggerFactory loggers,
        IOptionsMonitor<MoeSiloOptions>? live = null, ShadowEvaluator? shadow = null)
    {
        MoeSiloOptions o = options.Value;
        _logger = loggers.CreateLogger<RouterRuntime>();
        _drainTimeout = o.DrainTimeout;
        _warmupRequests = o.WarmupRequests;
        _warmupBatch = o.MaxBatchSequences;
        _warming = o.WarmupRequests > 0;
        Host = host;
        Limits = o.Limits;
        Shadow = shadow;
        Dispatcher = new GrainExpertDispatcher(grains, host, o, telemetry, placement, sampling, ranks, executor, loggers.CreateLogger<GrainExpertDispatcher>());
        Prefetcher = new GrainExpertPrefetcher(grains, host.ModelName, placement, prefetch,
            new MoeRuntime.Control.Prefetch.PregatingTally(host.DenseModel.Config.LayerCount, host.DenseModel.Config.ExpertCount, PregatingMaxLookahead, telemetry),
            executor, Dispatcher.ComputesHere);
        IExpertDispatcher dispatcher = Dispatcher;
        if (!string.IsNullOrWhiteSpace(o.RoutingTracePath))
        {
            string path = o.RoutingTracePath.Replace("{rank}", host.Rank.ToString(System.Globalization.CultureInfo.InvariantCulture));
            _trace = new RoutingTraceRecorder(RoutingTraceWriter.Create(path, RecordingExpertDispatcher.HeaderFor(host.DenseModel.Config, host.ModelName)));
            dispatcher = new RecordingExpertDispatcher(Dispatcher, _trace);
            _logger.LogInformation("Recording routing traces to {Path}", path);
        }
        if (o.CostAwareRouting is { Enabled: true } costAwareRouting)
        {
            RoutingBias = new CostAwareRoutingBias(costAwareRouting, new ExpertTierCache(grains, host, TimeSpan.FromSeconds(2), _logger));
            _logger.LogWarning("Cost-adaptive routing is on: the gates avoid cold experts, changing at most {Share:P1} of top-k choices per layer-step",
                costAwareRouting.MaxChangedShare);
        }
        Batcher = new ContinuousBatcher(host.DenseModel, dispatcher,
            new BatcherOptions
            {
                MaxQueuedRequests = o.MaxQueuedRequests, MaxBatchSequences = o.MaxBatchSequences, MaxBatchTokens = o.MaxBatchTokens,
                RestartDelay = o.BatcherRestartDelay, MaxRestartDelay = o.BatcherMaxRestartDelay, KvCacheBudgetBytes = o.Limits.KvCacheBudgetBytes,
                Overlap = o.Overlap, LoopCpus = o.Compute.LoopCpuList(),
            },
            loggers.CreateLogger<ContinuousBatcher>(), observer: telemetry, routingBias: RoutingBias, lookahead: Prefetcher);
        // Admission's bound follows a reloaded configuration (docs/configuration.md, "Live reload").
        _reloads = live?.OnChange(reloaded => Batcher.MaxQueuedRequests = reloaded.MaxQueuedRequests);
    }

    internal ModelHost Host { get; }
    /// <summary>What one request may cost this rank, checked before it is tokenised and queued.</summary>
    internal RequestLimits Limits { get; }
    internal GrainExpertDispatcher Dispatcher { get; }
    internal GrainExpertPrefetcher Prefetcher { get; }
    internal ContinuousBatcher Batcher { get; }
    /// <summary>Where finished requests go for shadow evaluation of a candidate (<c>Moe:Shadow</c>); null or off without one.</summary>
    internal ShadowEvaluator? Shadow { get; }
    /// <summary>Cost-adaptive routing, when switched on; null routes as trained.</summary>
    public CostAwareRoutingBias? RoutingBias { get; }

    public RouterStatus Status() => new()
    {
        Rank = Host.Rank,
        QueueDepth = Batcher.QueueDepth,
        ActiveSequences = Batcher.ActiveSequences,
        ExpertCalls = Dispatcher.Calls,
        BytesSent = Dispatcher.BytesSent,
        BytesReceived = Dispatcher.BytesReceived,
        ExpertCallSeconds = Dispatcher.CallTime.TotalSeconds,
        PrefetchHints = Prefetcher.Hints,
        CostAwareRoutingApplied = RoutingBias?.Applied ?? 0,
        CostAwareRoutingRefused = RoutingBias?.Refused ?? 0,
    };

    /// <summary>Whether this rank's router takes requests: ready only while its batching loop is serving.</summary>
    public RankReadiness Readiness() => RankReadiness.Of(Batcher.Health, Batcher.Restarts, Volatile.Read(ref _warming));

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RouterRuntime), ServiceLifecycleStage.Active, StartWarmup, DrainAsync);

    /// <summary>What the rank's warm-up served (<c>Moe:WarmupRequests</c>); null until it has finished, or without one.</summary>
    public WarmupResult? Warmup { get; private set; }

    // Texts of a few lengths, so the warm-up's prefills and decodes take the shapes real prompts do.
    static readonly string[] WarmupTexts =
    [
        "The experts",
        "A mixture of experts routes each token to a few of its feed-forward networks.",
        "Write a short note on caching, batching and the cost of moving weights between memory tiers, for an operator.",
        "Once upon a time, in a cluster far away, every rank kept its hottest experts close and its coldest on disk.",
    ];

    Task StartWarmup(CancellationToken cancellationToken)
    {
        // In the background: the silo finishes starting (and answers /healthz, "warming") while the router warms up.
        if (_warmupRequests > 0) _warmupTask = Task.Run(WarmUpAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    async Task WarmUpAsync()
    {
        try
        {
            int[][] prompts = WarmupTexts.Select(t => Host.Tokenizer.Encode(t).ToArray()).ToArray();
            WarmupResult result = await BatcherWarmup.RunAsync(Batcher, prompts, _warmupRequests, _warmupBatch, CancellationToken.None);
            Warmup = result;
            RouterLog.WarmedUp(_logger, Host.Rank, result.Requests, result.Tokens, result.Elapsed.TotalSeconds);
        }
        catch (Exception e)
        {
            // Whatever stopped it (a shutdown, a failing expert, a full queue), a rank that cannot warm up still serves:
            // it is ready as it would have been without the warm-up, and says why in its log.
            RouterLog.WarmupFailed(_logger, Host.Rank, e);
        }
        finally
        {
            Volatile.Write(ref _warming, false);
        }
    }

    /// <summary>A router grain took a request; <see cref="RequestEnded"/> follows once it has answered (or failed).</summary>
    internal void RequestStarted() => Interlocked.Increment(ref _openRequests);
    internal void RequestEnded() => Interlocked.Decrement(ref _openRequests);

    /// <summary>
    /// Lets queued and running requests finish within the drain timeout, then fails the rest, all while the silo still
    /// answers: a request failed after the silo stopped taking messages would leave its client waiting on a silo that is gone.
    /// </summary>
    async Task DrainAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Draining the router: {Queued} queued, {Active} running", Batcher.QueueDepth, Batcher.ActiveSequences);
        bool serving = Volatile.Read(ref _openRequests) > 0;
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            deadline.CancelAfter(_drainTimeout);
            try
            {
                await Batcher.DrainAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                _logger.LogWarning("Drain timeout ({DrainTimeout}) reached with {Active} requests still running; failing them as shutting down",
                    _drainTimeout, Batcher.ActiveSequences);
                await Batcher.DisposeAsync();
            }
        }
        long started = Stopwatch.GetTimestamp();
        while (Volatile.Read(ref _openRequests) > 0 && Stopwatch.GetElapsedTime(started) < EndGrace && !cancellationToken.IsCancellationRequested)
            await Task.Delay(TimeSpan.FromMilliseconds(50), CancellationToken.None);
        if (Volatile.Read(ref _openRequests) is > 0 and int open)
            _logger.LogWarning("{Open} requests had not ended {Grace} after the batcher stopped", open, EndGrace);
        // No request is served any more: the shadow's backlog is abandoned, the request it is scoring finishes.
        if (Shadow is not null) await Shadow.DisposeAsync();
        if (!serving) return;
        // A stream's end, or its failure, reaches the client only with the client's next poll, which follows each answer
        // at once; the silo must still answer when it comes.
        try
        {
            await Task.Delay(LastPollGrace, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        _reloads?.Dispose();
        await Batcher.DisposeAsync();
        // The warm-up ends with the batcher (its requests fail as shut down); it is waited for so nothing outlives the rank.
        if (_warmupTask is not null) await _warmupTask;
        if (_trace is not null && Interlocked.Exchange(ref _traceClosed, 1) == 0)
        {
            await _trace.DisposeAsync();
            _logger.LogInformation("Routing trace closed: {Records} records over {Steps} steps, {Dropped} dropped",
                _trace.Writer.Written, _trace.Steps, _trace.Writer.Dropped);
        }
    }

    static partial class RouterLog
    {
        [LoggerMessage(1908, LogLevel.Information, "Rank {Rank} warmed up: {Requests} requests, {Tokens} tokens in {Seconds:F1} s (Moe:WarmupRequests); ready")]
        public static partial void WarmedUp(ILogger logger, int rank, int requests, long tokens, double seconds);

        [LoggerMessage(1909, LogLevel.Warning, "Rank {Rank}'s warm-up stopped early; the rank is ready without it")]
        public static partial void WarmupFailed(ILogger logger, int rank, Exception error);
    }
}
