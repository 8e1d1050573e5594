using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Threading;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Generation;

/// <summary>
/// Continuous batching over an asynchronous forward pass: requests wait in a bounded admission queue,
/// join the running batch between steps (their prefill shares the step with other sequences' decodes),
/// and leave it as soon as they finish, fail, are cancelled or pass their deadline.
/// One loop owns the model and all caches, so nothing here needs a lock.
/// </summary>
public sealed class ContinuousBatcher : IAsyncDisposable
{
    readonly MoeModel _model;
    readonly IExpertDispatcher _dispatcher;
    readonly BatcherOptions _options;
    int _maxQueued;
    readonly ILogger _logger;
    readonly TimeProvider _time;
    readonly Channel<GenerationStream> _queue;
    readonly CancellationTokenSource _stopping = new();
    readonly List<GenerationStream> _active = [];
    /// <summary>Requests taken off the channel, oldest first, not yet admitted; owned by the loop like <see cref="_active"/>.</summary>
    readonly List<GenerationStream> _waiting = [];
    readonly Task _loop;
    int _queued;
    volatile bool _draining;
    bool _faulted, _stopped;
    int _faultsInARow;
    long _restarts;
    int _disposed;

    readonly IBatcherObserver? _observer;
    readonly IRoutingBias? _routingBias;
    readonly IExpertLookahead? _lookahead;
    readonly Action<int, TimeSpan, TimeSpan, int>? _layerTimed;
    readonly StepFailures _failures = new();

    /// <param name="routingBias">Steers the gates' top-k (cost-adaptive routing); null routes as trained.</param>
    /// <param name="lookahead">Told each step the experts the next layers' gates pick (pre-gating); null predicts nothing.</param>
    public ContinuousBatcher(MoeModel model, IExpertDispatcher dispatcher, BatcherOptions options, ILogger logger, TimeProvider? time = null,
        IBatcherObserver? observer = null, IRoutingBias? routingBias = null, IExpertLookahead? lookahead = null)
    {
        _routingBias = routingBias;
        _lookahead = lookahead;
        _observer = observer;
        _layerTimed = observer is null ? null : (layer, attention, gate, tokens) =>
        {
            observer.AttentionComputed(layer, attention + gate, tokens);
            observer.LayerPhases(layer, attention, gate);
        };
        _model = model;
        _dispatcher = dispatcher;
        _options = options;
        _maxQueued = options.MaxQueuedRequests;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        options.Validate();
        // Unbounded: the loop moves requests into its waiting list each step (so it can drop those that were cancelled or
        // passed their deadline); the queue's bound is the count Submit checks.
        _queue = Channel.CreateUnbounded<GenerationStream>(new UnboundedChannelOptions { SingleReader = true });
        if (options.LoopCpus is { } cpus)
        {
            _loopThread = new LoopThread("moe-batch-loop", cpus.Count == 0 ? null : cpus);
            _loop = _loopThread.Run(RunAsync);
        }
        else _loop = Task.Run(RunAsync);
    }

    /// <summary>The loop's own thread (<see cref="BatcherOptions.LoopCpus"/>); null when it runs on the thread pool.</summary>
    readonly LoopThread? _loopThread;

    /// <summary>Requests waiting for a place in the batch.</summary>
    public int QueueDepth => Volatile.Read(ref _queued);

    /// <summary>
    /// The most requests that may wait (<see cref="BatcherOptions.MaxQueuedRequests"/> at start). Changeable while
    /// running: a lower bound turns away new requests until the queue is under it; those already queued stay.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Less than 1.</exception>
    public int MaxQueuedRequests
    {
        get => Volatile.Read(ref _maxQueued);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(MaxQueuedRequests));
            Volatile.Write(ref _maxQueued, value);
        }
    }
    /// <summary>Sequences in the running batch (read from any thread; exact only between steps).</summary>
    public int ActiveSequences => Volatile.Read(ref _activeCount);
    int _activeCount;

    /// <summary>Whether the loop takes requests: a readiness check is ready only while this is <see cref="BatcherHealth.Serving"/>.</summary>
    public BatcherHealth Health =>
        Volatile.Read(ref _stopped) || _stopping.IsCancellationRequested ? BatcherHealth.Stopped
        : Volatile.Read(ref _faulted) ? BatcherHealth.Restarting
        : _draining ? BatcherHealth.Draining
        : BatcherHealth.Serving;

    /// <summary>KV-cache bytes reserved by the sequences in the running batch (exact only between steps).</summary>
    public long KvReservedBytes => Volatile.Read(ref _kvReserved);
    long _kvReserved;

    /// <summary>Test hook: asked before each step; an exception it returns is thrown by the loop as an unexpected failure.</summary>
    internal Func<Exception?>? FaultHook { get; set; }

    /// <summary>Times the loop restarted after an unexpected failure.</summary>
    public long Restarts => Volatile.Read(ref _restarts);

    /// <summary>
    /// Validates and queues a request. Invalid requests throw <see cref="ArgumentException"/>; a full
    /// queue throws <see cref="AdmissionRejectedException"/>; either way nothing was queued.
    /// </summary>
    public GenerationStream Submit(GenerationRequest request, DateTimeOffset? deadline = null, CancellationToken cancellationToken = default)
    {
        Validate(request);
        long kvBytes = SequenceState.KvBytesNeeded(_model.Config, request);
        if (kvBytes > _options.KvCacheBudgetBytes)
            throw new ArgumentException(
                $"the request needs {kvBytes} bytes of KV cache ({SequenceState.PositionsNeeded(_model.Config, request)} positions: the prompt plus max tokens) "
                + $"and this rank's KV-cache budget is {_options.KvCacheBudgetBytes} bytes; lower max tokens or shorten the prompt");
        if (_draining || _stopping.IsCancellationRequested) throw new ObjectDisposedException(nameof(ContinuousBatcher), "the batcher is shutting down");
        int maxQueued = MaxQueuedRequests;
        if (Interlocked.Increment(ref _queued) > maxQueued)
        {
            Interlocked.Decrement(ref _queued);
            throw new AdmissionRejectedException(maxQueued);
        }
        var stream = new GenerationStream(request, deadline, _time.GetUtcNow(), cancellationToken) { KvBytes = kvBytes };
        if (!_queue.Writer.TryWrite(stream))
        {
            Interlocked.Decrement(ref _queued);
            throw new ObjectDisposedException(nameof(ContinuousBatcher), "the batcher is shutting down");
        }
        return stream;
    }

    void Validate(GenerationRequest request)
    {
        int count = request.PromptTokens.Count, vocabulary = _model.Config.VocabularySize;
        if (count == 0) throw new ArgumentException("the prompt is empty");
        if (count + 1 > _model.Config.MaxSequenceLength)
            throw new ArgumentException($"the prompt has {count} tokens; the model allows at most {_model.Config.MaxSequenceLength - 1}");
        if (count > _options.MaxBatchTokens)
            throw new ArgumentException($"the prompt has {count} tokens; one step carries at most {_options.MaxBatchTokens}");
        // The message names the position, never the id: it is the client's content and failure logs keep the message.
        for (int i = 0; i < count; i++)
            if ((uint)request.PromptTokens[i] >= (uint)vocabulary)
                throw new ArgumentException($"prompt token at position {i} lies outside the vocabulary of {vocabulary}");
        if (request.TopLogprobs is < 0 or > 100)
            throw new ArgumentException($"top logprobs must be between 0 and 100 (is {request.TopLogprobs})");
        request.Options.Validate(vocabulary);
    }

    /// <summary>
    /// Supervises the loop: an unexpected failure fails the running requests with <see cref="BatcherFaultException"/>,
    /// and the loop restarts after a back-off that doubles with each failure in a row (bounded by the options); queued
    /// requests wait for it. <see cref="Health"/> says <see cref="BatcherHealth.Restarting"/> meanwhile.
    /// </summary>
    async Task RunAsync()
    {
        ChannelReader<GenerationStream> queue = _queue.Reader;
        try
        {
            while (true)
            {
                try
                {
                    await ServeAsync(queue).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (!_stopping.IsCancellationRequested)
                {
                    Volatile.Write(ref _faulted, true);
                    _faultsInARow++;
                    TimeSpan delay = _options.RestartDelayAfter(_faultsInARow);
                    BatcherLog.LoopFaulted(_logger, _faultsInARow, _active.Count, delay, e);
                    // The back-off starts before the affected requests hear of the failure, so whoever sees them fail
                    // can count on the restart being scheduled.
                    Task backOff = Task.Delay(delay, _time, _stopping.Token);
                    var fault = new BatcherFaultException(e);
                    foreach (GenerationStream stream in _active) Finish(stream, fault);
                    _active.Clear();
                    PublishBatch();
                    await backOff.ConfigureAwait(false);
                    Interlocked.Increment(ref _restarts);
                    Volatile.Write(ref _faulted, false);
                    BatcherLog.LoopRestarted(_logger, Volatile.Read(ref _restarts), QueueDepth);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        finally
        {
            Volatile.Write(ref _stopped, true);
            var stopped = new ObjectDisposedException(nameof(ContinuousBatcher), "the batcher was shut down before the request finished");
            foreach (GenerationStream stream in _active) Finish(stream, stopped);
            foreach (GenerationStream stream in _waiting) stream.Fail(stopped);
            while (queue.TryRead(out GenerationStream? waiting)) waiting.Fail(stopped);
            _active.Clear();
            _waiting.Clear();
            PublishBatch();
        }
    }

    /// <summary>The loop proper: admit, prune, step, until the queue is completed and empty.</summary>
    async Task ServeAsync(ChannelReader<GenerationStream> queue)
    {
        while (true)
        {
            if (_active.Count == 0 && _waiting.Count == 0 && !await queue.WaitToReadAsync(_stopping.Token).ConfigureAwait(false)) return;
            // Each turn runs on the loop's own thread, if it has one, wherever the last await resumed.
            if (_loopThread is not null) await _loopThread.SwitchTo();
            Admit(queue);
            Prune();
            PublishBatch();
            if (_active.Count > 0)
            {
                if (FaultHook?.Invoke() is { } injected) throw injected;
                await StepAsync().ConfigureAwait(false);
                _faultsInARow = 0;
            }
            PublishBatch();
        }
    }

    /// <summary>Publishes the running batch's size and KV reservation for readers on other threads.</summary>
    void PublishBatch()
    {
        long kvReserved = 0;
        foreach (GenerationStream s in _active) kvReserved += s.KvBytes;
        Volatile.Write(ref _activeCount, _active.Count);
        Volatile.Write(ref _kvReserved, kvReserved);
    }

    void Admit(ChannelReader<GenerationStream> queue)
    {
        while (queue.TryRead(out GenerationStream? arrived)) _waiting.Add(arrived);
        PruneWaiting();
        int tokens = 0;
        long kvReserved = 0;
        foreach (GenerationStream s in _active)
        {
            tokens += s.State!.Cache.Length == 0 ? s.Request.PromptTokens.Count : 1;
            kvReserved += s.KvBytes;
        }
        int taken = 0;
        try
        {
            while (taken < _waiting.Count && _active.Count < _options.MaxBatchSequences)
            {
                GenerationStream next = _waiting[taken];
                if (tokens != 0 && tokens + next.Request.PromptTokens.Count > _options.MaxBatchTokens) break;
                // First come, first served: the head waits for KV room rather than be overtaken by smaller requests.
                if (kvReserved + next.KvBytes > _options.KvCacheBudgetBytes) break;
                taken++;
                Interlocked.Decrement(ref _queued);
                try
                {
                    next.State = new SequenceState(_model, next.Request);
                }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                {
                    next.Fail(e);
                    continue;
                }
                catch (Exception e)
                {
                    next.Fail(new BatcherFaultException(e));
                    throw;
                }
                // In the batch before anything else can throw, so a loop failure fails it rather than losing it.
                _active.Add(next);
                tokens += next.Request.PromptTokens.Count;
                kvReserved += next.KvBytes;
                _observer?.Admitted(_time.GetUtcNow() - next.SubmittedAt);
                next.EnterPhase("moe.prefill");
                next.Phase?.SetTag("moe.prompt_tokens", next.Request.PromptTokens.Count);
            }
        }
        finally
        {
            _waiting.RemoveRange(0, taken);
        }
    }

    /// <summary>
    /// Fails waiting requests that were cancelled or passed their deadline, keeping the others in order: a request
    /// leaves the queue within one step of its client going away, not when its turn comes.
    /// </summary>
    void PruneWaiting()
    {
        if (_waiting.Count == 0) return;
        DateTimeOffset now = _time.GetUtcNow();
        int kept = 0;
        for (int i = 0; i < _waiting.Count; i++)
        {
            GenerationStream stream = _waiting[i];
            Exception? reason = stream.CancellationToken.IsCancellationRequested
                ? new OperationCanceledException("the request was cancelled while queued", stream.CancellationToken)
                : stream.Deadline is { } deadline && now >= deadline
                    ? new TimeoutException($"the request passed its deadline {deadline:O} while queued, before it was admitted")
                    : null;
            if (reason is null)
            {
                _waiting[kept++] = stream;
                continue;
            }
            Interlocked.Decrement(ref _queued);
            stream.Fail(reason);
        }
        _waiting.RemoveRange(kept, _waiting.Count - kept);
    }

    /// <summary>Drops cancelled requests and those past their deadline before they cost another step.</summary>
    void Prune()
    {
        DateTimeOffset now = _time.GetUtcNow();
        for (int i = _active.Count - 1; i >= 0; i--)
        {
            GenerationStream stream = _active[i];
            Exception? reason = stream.CancellationToken.IsCancellationRequested
                ? new OperationCanceledException("the request was cancelled", stream.CancellationToken)
                : stream.Deadline is { } deadline && now >= deadline
                    ? new TimeoutException($"the request passed its deadline {deadline:O} after {stream.State!.Generated.Count} tokens")
                    : null;
            if (reason is null) continue;
            Finish(stream, reason);
            _active.RemoveAt(i);
        }
    }

    async Task StepAsync()
    {
        var steps = new SequenceStep[_active.Count];
        for (int i = 0; i < steps.Length; i++) steps[i] = _active[i].State!.NextStep();
        Tensor logits;
        using Activity? step = StartStep(steps);
        long started = Stopwatch.GetTimestamp();
        int prefills = 0, newTokens = 0, longestContext = 0;
        long cached = 0;
        foreach (SequenceStep s in steps)
        {
            if (s.Cache.Length == 0) prefills++;
            newTokens += s.Tokens.Length;
            cached += (long)s.Cache.Length * s.Tokens.Length;
            longestContext = Math.Max(longestContext, s.Cache.Length + s.Tokens.Length);
        }
        try
        {
            logits = await _model.ForwardAsync(steps, _dispatcher, _stopping.Token, _layerTimed, _routingBias, _lookahead, _failures, _options.Overlap).ConfigureAwait(false);
        }
        catch (Exception e) when (!_stopping.IsCancellationRequested)
        {
            _logger.LogWarning(e, "Decode step for {Sequences} sequences failed; failing them", _active.Count);
            foreach (GenerationStream stream in _active) Finish(stream, e);
            _active.Clear();
            return;
        }
        TimeSpan forward = Stopwatch.GetElapsedTime(started);
        long sampled = Stopwatch.GetTimestamp();
        using (logits)
        {
            ReadOnlySpan<float> all = TensorSpans.Floats(logits);
            int vocabulary = _model.Config.VocabularySize;
            // Rows of the step run in batch order; walking back from the end, each sequence's rows end where the next begin.
            int rowEnd = newTokens;
            for (int i = _active.Count - 1; i >= 0; i--)
            {
                GenerationStream stream = _active[i];
                SequenceState state = stream.State!;
                int rowStart = rowEnd - steps[i].Tokens.Length;
                Exception? expertFailure = _failures.FirstIn(rowStart, rowEnd - rowStart);
                rowEnd = rowStart;
                if (expertFailure is not null)
                {
                    // One of its tokens went to an expert that failed: only this sequence fails, the rest of the batch goes on.
                    Finish(stream, expertFailure);
                    _active.RemoveAt(i);
                    continue;
                }
                ReadOnlySpan<float> row = all.Slice(i * vocabulary, vocabulary);
                try
                {
                    if (state.Accept(row) is { } token)
                        stream.Emit(new StreamedToken(token, state.Generated.Count - 1, stream.Request.CaptureLogits ? row.ToArray() : null, state.LastLogprobs,
                            state.LastText, state.Finished));
                }
                catch (InvalidOperationException e)
                {
                    Finish(stream, e);
                    _active.RemoveAt(i);
                    continue;
                }
                if (state.Finished is null) continue;
                Finish(stream, null);
                _active.RemoveAt(i);
            }
        }
        if (_observer is not null)
        {
            long kvBytes = 0;
            foreach (GenerationStream s in _active) kvBytes += s.State!.Cache.Bytes;
            _observer.StepCompleted(steps.Length, prefills, newTokens, cached, forward, Stopwatch.GetElapsedTime(sampled), kvBytes, longestContext);
        }
    }

    /// <summary>
    /// A forward pass serves many requests: it becomes a child of the first one's stage span and links
    /// the others, and is the current activity while experts are called so their spans join the trace.
    /// </summary>
    Activity? StartStep(SequenceStep[] steps)
    {
        if (!GenerationTracing.Source.HasListeners()) return null;
        ActivityContext parent = _active[0].Phase?.Context ?? default;
        var links = _active.Skip(1).Where(s => s.Phase is not null).Select(s => new ActivityLink(s.Phase!.Context));
        Activity? step = GenerationTracing.Source.StartActivity("moe.step", ActivityKind.Internal, parent, links: links);
        step?.SetTag("moe.batch.sequences", steps.Length);
        step?.SetTag("moe.batch.tokens", steps.Sum(s => s.Tokens.Length));
        return step;
    }

    static void Finish(GenerationStream stream, Exception? error)
    {
        if (error is null) stream.Complete(stream.State!.Result());
        else stream.Fail(error);
        stream.State?.Dispose();
    }

    /// <summary>Graceful shutdown: refuses new requests and lets queued and running ones finish.</summary>
    public async Task DrainAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        _queue.Writer.TryComplete();
        await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops admitting, fails what is queued or running, and waits for the loop to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _queue.Writer.TryComplete();
        _stopping.Cancel();
        await _loop.ConfigureAwait(false);
        _loopThread?.Dispose();
        _stopping.Dispose();
    }
}
