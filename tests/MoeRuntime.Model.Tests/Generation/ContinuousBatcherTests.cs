using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tests.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Generation;

public class ContinuousBatcherTests
{
    static readonly Model.Configuration.ModelConfig Config = TinyModelWeights.TinyConfig() with
    {
        VocabularySize = 50, HiddenSize = 32, AttentionHeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 8,
        ExpertIntermediateSize = 24, ExpertCount = 8, LayerCount = 2, MaxPositionEmbeddings = 256, EndOfSequenceTokenIds = [0],
    };

    /// <summary>Runs experts locally, but only once the test lets it, so requests can be held in flight.</summary>
    sealed class GatedDispatcher(MoeModel model) : IExpertDispatcher
    {
        readonly LocalExpertDispatcher _local = new(model);
        TaskCompletionSource _gate = new();
        public Exception? Failure { get; set; }

        public GatedDispatcher Open()
        {
            _gate.TrySetResult();
            return this;
        }

        public GatedDispatcher Close()
        {
            _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return this;
        }

        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            await _gate.Task.WaitAsync(cancellationToken);
            if (Failure is { } failure) throw failure;
            await _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
        }
    }

    /// <summary>Runs experts locally, one forward step at a time as the test releases them.</summary>
    sealed class SteppedDispatcher(MoeModel model) : IExpertDispatcher
    {
        readonly LocalExpertDispatcher _local = new(model);
        readonly SemaphoreSlim _layers = new(0);

        public void ReleaseSteps(int steps) => _layers.Release(steps * model.Config.LayerCount);

        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            await _layers.WaitAsync(cancellationToken);
            await _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
        }
    }

    /// <summary>Waits for a completion the test expects; the bound only keeps a broken batcher from hanging the run.</summary>
    static async Task<T> Soon<T>(Task<T> task)
    {
        if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromMinutes(1))) != task) Assert.Fail("the batcher never ended the request");
        return await task;
    }

    static GenerationRequest Request(int[] prompt, SamplingOptions options) => new(prompt, options) { CaptureLogits = true };

    [Fact]
    public async Task BatchedAsyncGenerationEqualsTheReferenceTokenForToken()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 31).BuildModel();
        int[][] prompts = [[1, 2, 3], [9], [4, 4, 4, 4, 4, 4], [17, 30], [5, 6, 7, 8, 9, 10, 11]];
        GenerationRequest[] requests = prompts.Select((p, i) => Request(p, i % 2 == 0
            ? SamplingOptions.Greedy with { MaxTokens = 20 + i, StopTokenIds = [] }
            : new SamplingOptions { Seed = (ulong)i, MaxTokens = 15, StopTokenIds = [] })).ToArray();
        var expected = new ReferenceGenerator(model).Run(requests, maxBatch: 1);

        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions { MaxBatchSequences = 3 }, NullLogger.Instance);
        GenerationStream[] streams = requests.Select(r => batcher.Submit(r)).ToArray();
        for (int i = 0; i < streams.Length; i++)
        {
            var streamed = new List<StreamedToken>();
            await foreach (StreamedToken token in streams[i].Tokens) streamed.Add(token);
            GenerationResult result = await streams[i].Completion;
            Assert.Equal(expected[i].Tokens, result.Tokens);
            Assert.Equal(expected[i].Tokens, streamed.Select(t => t.Id));
            for (int t = 0; t < streamed.Count; t++)
                for (int v = 0; v < Config.VocabularySize; v++)
                    Assert.True(Math.Abs(expected[i].Logits![t][v] - streamed[t].Logits![v]) < 1e-4, $"request {i} step {t} logit {v}");
        }
    }

    /// <summary>Local experts behind an await that leaves the calling thread; notes the thread each step's first layer starts on.</summary>
    sealed class HoppingDispatcher(MoeModel model) : IExpertDispatcher
    {
        readonly LocalExpertDispatcher _local = new(model);
        public System.Collections.Concurrent.ConcurrentQueue<string?> FirstLayerThreads { get; } = new();
        public int Hops;

        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            if (layer == 0) FirstLayerThreads.Enqueue(Thread.CurrentThread.Name);
            int before = Environment.CurrentManagedThreadId;
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            if (Environment.CurrentManagedThreadId != before) Interlocked.Increment(ref Hops);
            await _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
        }
    }

    [Fact]
    public async Task WithLoopCpusEveryStepStartsOnTheLoopsOwnThreadAndComputesTheSame()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 33).BuildModel();
        int[][] prompts = [[1, 2, 3], [9], [4, 4, 4, 4]];
        GenerationRequest[] requests = prompts.Select(p => Request(p, SamplingOptions.Greedy with { MaxTokens = 12, StopTokenIds = [] })).ToArray();
        var expected = new ReferenceGenerator(model).Run(requests, maxBatch: 1);
        // Empty: a thread of its own, unpinned (the pinning itself is LoopThreadTests').
        var dispatcher = new HoppingDispatcher(model);
        await using (var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions { MaxBatchSequences = 2, LoopCpus = [] }, NullLogger.Instance))
        {
            GenerationStream[] streams = requests.Select(r => batcher.Submit(r)).ToArray();
            for (int i = 0; i < streams.Length; i++)
            {
                GenerationResult result = await Soon(streams[i].Completion);
                Assert.Equal(expected[i].Tokens, result.Tokens);
                for (int t = 0; t < result.Tokens.Count; t++)
                    for (int v = 0; v < Config.VocabularySize; v++)
                        Assert.True(Math.Abs(expected[i].Logits![t][v] - result.Logits![t][v]) < 1e-4, $"request {i} step {t} logit {v}");
            }
        }
        Assert.NotEmpty(dispatcher.FirstLayerThreads);
        Assert.All(dispatcher.FirstLayerThreads, name => Assert.Equal("moe-batch-loop", name));
        // Each step's later layers ran where the awaits resumed: the loop came back to its thread by itself.
        Assert.True(dispatcher.Hops > 0);
    }

    [Fact]
    public async Task AFullQueueRefusesAtOnceWithATypedError()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 32).BuildModel();
        var dispatcher = new GatedDispatcher(model).Close();
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions { MaxQueuedRequests = 2, MaxBatchSequences = 1 }, NullLogger.Instance);
        var options = SamplingOptions.Greedy with { MaxTokens = 3, StopTokenIds = [] };

        GenerationStream running = batcher.Submit(Request([1, 2], options));
        await WaitUntil(() => batcher.ActiveSequences == 1);
        batcher.Submit(Request([3], options));
        batcher.Submit(Request([4], options));
        var error = Assert.Throws<AdmissionRejectedException>(() => batcher.Submit(Request([5], options)));
        Assert.Equal(2, error.QueueCapacity);

        dispatcher.Open();
        Assert.Equal(3, (await running.Completion).Tokens.Count);
    }

    [Fact]
    public async Task CancellingOneRequestLeavesTheOthersRunning()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 33).BuildModel();
        var dispatcher = new GatedDispatcher(model).Close();
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions(), NullLogger.Instance);
        var options = SamplingOptions.Greedy with { MaxTokens = 60, StopTokenIds = [] };
        using var cancel = new CancellationTokenSource();
        GenerationStream cancelled = batcher.Submit(Request([1, 2], options), cancellationToken: cancel.Token);
        GenerationStream other = batcher.Submit(Request([3, 4], options));
        // Both join the first step, or the first starts alone (held at the closed gate) and the other waits for the next:
        // the loop may wake between the two submissions.
        await WaitUntil(() => batcher.ActiveSequences + batcher.QueueDepth == 2 && batcher.ActiveSequences >= 1);
        cancel.Cancel();
        dispatcher.Open();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.Completion);
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (StreamedToken _ in cancelled.Tokens) received++;
        });
        Assert.True(received <= 1, $"a cancelled request stops at the next step boundary, got {received} tokens");
        Assert.Equal(60, (await other.Completion).Tokens.Count);
    }

    [Fact]
    public async Task ARequestPastItsDeadlineEndsWithATimeout()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 34).BuildModel();
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions(), NullLogger.Instance);
        GenerationStream stream = batcher.Submit(Request([1], SamplingOptions.Greedy with { MaxTokens = 200, StopTokenIds = [] }), deadline: DateTimeOffset.UtcNow.AddMilliseconds(-1));
        await Assert.ThrowsAsync<TimeoutException>(() => stream.Completion);
    }

    [Fact]
    public async Task AQueuedRequestPastItsDeadlineLeavesTheQueueWithinOneStep()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 38).BuildModel();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var dispatcher = new SteppedDispatcher(model);
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions { MaxBatchSequences = 1 }, NullLogger.Instance, time);
        var options = SamplingOptions.Greedy with { MaxTokens = 8, StopTokenIds = [] };
        GenerationStream running = batcher.Submit(Request([1, 2], options));
        await WaitUntil(() => batcher.ActiveSequences == 1);
        GenerationStream expiring = batcher.Submit(Request([3], options), deadline: time.GetUtcNow().AddSeconds(5));
        GenerationStream patient = batcher.Submit(Request([4], options));
        Assert.Equal(2, batcher.QueueDepth);

        time.Advance(TimeSpan.FromSeconds(6));
        dispatcher.ReleaseSteps(1);
        var error = await Assert.ThrowsAsync<TimeoutException>(() => Soon(expiring.Completion));
        Assert.Contains("while queued", error.Message);
        // Only one step ran: the running request is not finished and the other queued request still waits.
        Assert.False(running.Completion.IsCompleted);
        Assert.Equal(1, batcher.QueueDepth);

        dispatcher.ReleaseSteps(100);
        Assert.Equal(8, (await Soon(running.Completion)).Tokens.Count);
        Assert.Equal(8, (await Soon(patient.Completion)).Tokens.Count);
        Assert.Equal(0, batcher.QueueDepth);
    }

    [Fact]
    public async Task ACancelledQueuedRequestLeavesTheQueueWithinOneStep()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 39).BuildModel();
        var dispatcher = new SteppedDispatcher(model);
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions { MaxBatchSequences = 1 }, NullLogger.Instance);
        var options = SamplingOptions.Greedy with { MaxTokens = 8, StopTokenIds = [] };
        GenerationStream running = batcher.Submit(Request([1, 2], options));
        await WaitUntil(() => batcher.ActiveSequences == 1);
        using var cancel = new CancellationTokenSource();
        GenerationStream patient = batcher.Submit(Request([4], options));
        GenerationStream abandoned = batcher.Submit(Request([3], options), cancellationToken: cancel.Token);
        Assert.Equal(2, batcher.QueueDepth);

        cancel.Cancel();
        dispatcher.ReleaseSteps(1);
        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Soon(abandoned.Completion));
        Assert.Contains("while queued", error.Message);
        Assert.False(running.Completion.IsCompleted);
        Assert.Equal(1, batcher.QueueDepth);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (StreamedToken _ in abandoned.Tokens) Assert.Fail("a request cancelled while queued streams no token");
        });

        dispatcher.ReleaseSteps(100);
        Assert.Equal(8, (await Soon(running.Completion)).Tokens.Count);
        Assert.Equal(8, (await Soon(patient.Completion)).Tokens.Count);
    }

    /// <summary>An observer with a bug: its next <see cref="FailingSteps"/> step reports throw.</summary>
    sealed class FaultyObserver : IBatcherObserver
    {
        public int FailingSteps;
        public void Admitted(TimeSpan queueWait) { }
        public void AttentionComputed(int layer, TimeSpan elapsed, int tokens) { }

        public void StepCompleted(int sequences, int prefills, int newTokens, long cachedPositions, TimeSpan forward, TimeSpan sampling, long kvCacheBytes, int longestContext)
        {
            if (FailingSteps <= 0) return;
            FailingSteps--;
            throw new NotSupportedException("injected loop fault");
        }
    }

    [Fact]
    public async Task ALoopFailureFailsTheRunningRequestsTypedAndTheLoopRestartsAfterABoundedBackOff()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 40).BuildModel();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var observer = new FaultyObserver { FailingSteps = 2 };
        var options = new BatcherOptions { RestartDelay = TimeSpan.FromSeconds(1), MaxRestartDelay = TimeSpan.FromSeconds(10) };
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), options, NullLogger.Instance, time, observer);
        var sampling = SamplingOptions.Greedy with { MaxTokens = 5, StopTokenIds = [] };
        Assert.Equal(BatcherHealth.Serving, batcher.Health);

        var first = await Assert.ThrowsAsync<BatcherFaultException>(() => Soon(batcher.Submit(Request([1, 2], sampling)).Completion));
        Assert.IsType<NotSupportedException>(first.InnerException);
        Assert.Equal(BatcherHealth.Restarting, batcher.Health);
        GenerationStream waiting = batcher.Submit(Request([3], sampling));
        time.Advance(TimeSpan.FromSeconds(1) - TimeSpan.FromTicks(1));
        Assert.Equal(BatcherHealth.Restarting, batcher.Health);
        Assert.False(waiting.Completion.IsCompleted);

        // The restart admits the waiting request; the loop fails again at once, so the second back-off is twice the first.
        time.Advance(TimeSpan.FromTicks(1));
        await Assert.ThrowsAsync<BatcherFaultException>(() => Soon(waiting.Completion));
        Assert.Equal(BatcherHealth.Restarting, batcher.Health);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(BatcherHealth.Restarting, batcher.Health);
        time.Advance(TimeSpan.FromSeconds(1));
        await WaitUntil(() => batcher.Health == BatcherHealth.Serving);
        Assert.Equal(2, batcher.Restarts);

        Assert.Equal(5, (await Soon(batcher.Submit(Request([4], sampling)).Completion)).Tokens.Count);
        Assert.Equal(BatcherHealth.Serving, batcher.Health);
    }

    [Fact]
    public void TheRestartBackOffDoublesAndStopsAtItsBound()
    {
        var options = new BatcherOptions { RestartDelay = TimeSpan.FromMilliseconds(100), MaxRestartDelay = TimeSpan.FromSeconds(1) };
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.RestartDelayAfter(1));
        Assert.Equal(TimeSpan.FromMilliseconds(200), options.RestartDelayAfter(2));
        Assert.Equal(TimeSpan.FromMilliseconds(800), options.RestartDelayAfter(4));
        Assert.Equal(TimeSpan.FromSeconds(1), options.RestartDelayAfter(5));
        Assert.Equal(TimeSpan.FromSeconds(1), options.RestartDelayAfter(1000));
        var error = Assert.Throws<ArgumentException>(() => (options with { MaxRestartDelay = TimeSpan.FromMilliseconds(50) }).Validate());
        Assert.Contains("MaxRestartDelay", error.Message);
    }

    [Fact]
    public async Task DisposingWhileRestartingFailsTheQueuedRequestsAsShuttingDown()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 41).BuildModel();
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions(), NullLogger.Instance, time,
            new FaultyObserver { FailingSteps = 1 });
        var sampling = SamplingOptions.Greedy with { MaxTokens = 5, StopTokenIds = [] };
        await Assert.ThrowsAsync<BatcherFaultException>(() => Soon(batcher.Submit(Request([1, 2], sampling)).Completion));
        GenerationStream waiting = batcher.Submit(Request([3], sampling));
        await batcher.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => Soon(waiting.Completion));
        Assert.Equal(BatcherHealth.Stopped, batcher.Health);
    }

    sealed class KvObserver : IBatcherObserver
    {
        public long MostKvBytes;
        public int MostSequences, Steps;
        public void Admitted(TimeSpan queueWait) { }
        public void AttentionComputed(int layer, TimeSpan elapsed, int tokens) { }

        public void StepCompleted(int sequences, int prefills, int newTokens, long cachedPositions, TimeSpan forward, TimeSpan sampling, long kvCacheBytes, int longestContext)
        {
            MostKvBytes = Math.Max(MostKvBytes, kvCacheBytes);
            MostSequences = Math.Max(MostSequences, sequences);
            Volatile.Write(ref Steps, Steps + 1);
        }
    }

    [Fact]
    public async Task AWarmupServesItsRequestsInWavesOfABatchAndCountsTheirTokens()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 45).BuildModel();
        var observer = new KvObserver();
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions { MaxBatchSequences = 8 }, NullLogger.Instance, observer: observer);

        WarmupResult result = await Soon(BatcherWarmup.RunAsync(batcher, [[1, 2, 3], [7], [4, 5, 6, 7, 8]], requests: 7, batch: 3, CancellationToken.None));

        Assert.Equal(7, result.Requests);
        Assert.Equal(7 * BatcherWarmup.TokensPerRequest, result.Tokens);
        // Waves of three (3, 3, 1): the batch never held more, though the batcher would have taken eight.
        Assert.Equal(3, observer.MostSequences);
        Assert.Equal(0, batcher.QueueDepth);
        Assert.Throws<ArgumentException>(() => BatcherWarmup.RunAsync(batcher, [[]], 1, 1, CancellationToken.None).GetAwaiter().GetResult());
        Assert.Throws<ArgumentException>(() => BatcherWarmup.RunAsync(batcher, [], 1, 1, CancellationToken.None).GetAwaiter().GetResult());
        Assert.Throws<ArgumentOutOfRangeException>(() => BatcherWarmup.RunAsync(batcher, [[1]], 0, 1, CancellationToken.None).GetAwaiter().GetResult());
    }

    [Fact]
    public async Task ARequestWhoseKvCacheCouldNeverFitTheBudgetIsRefusedNamingTheBytes()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 42).BuildModel();
        long budget = KvCache.BytesFor(Config, 20);
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions { KvCacheBudgetBytes = budget }, NullLogger.Instance);
        var error = Assert.Throws<ArgumentException>(() => batcher.Submit(Request([1, 2, 3], SamplingOptions.Greedy with { MaxTokens = 18 })));
        Assert.Contains($"needs {KvCache.BytesFor(Config, 21)} bytes of KV cache (21 positions", error.Message);
        Assert.Contains($"budget is {budget} bytes", error.Message);
        Assert.Equal(0, batcher.QueueDepth);
        // Exactly the budget fits.
        Assert.Equal(17, (await Soon(batcher.Submit(Request([1, 2, 3], SamplingOptions.Greedy with { MaxTokens = 17, StopTokenIds = [] })).Completion)).Tokens.Count);
    }

    [Fact]
    public async Task ARequestThatFitsTheKvBudgetOnlyLaterWaitsAndIsServedAndTheCachesNeverPassTheBudget()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 43).BuildModel();
        long budget = KvCache.BytesFor(Config, 40);
        var dispatcher = new SteppedDispatcher(model);
        var observer = new KvObserver();
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions { KvCacheBudgetBytes = budget }, NullLogger.Instance, observer: observer);
        var options = SamplingOptions.Greedy with { MaxTokens = 23, StopTokenIds = [] };
        GenerationStream first = batcher.Submit(Request([1, 2], options));
        await WaitUntil(() => batcher.ActiveSequences == 1);
        Assert.Equal(KvCache.BytesFor(Config, 25), batcher.KvReservedBytes);
        GenerationStream second = batcher.Submit(Request([3, 4], options));
        GenerationStream small = batcher.Submit(Request([5], options with { MaxTokens = 4 }));

        // 25 + 25 positions do not fit in 40: the second waits, and the small one behind it does not overtake it.
        dispatcher.ReleaseSteps(3);
        await WaitUntil(() => Volatile.Read(ref observer.Steps) == 3);
        Assert.Equal(1, batcher.ActiveSequences);
        Assert.Equal(2, batcher.QueueDepth);

        dispatcher.ReleaseSteps(1000);
        Assert.Equal(23, (await Soon(first.Completion)).Tokens.Count);
        Assert.Equal(23, (await Soon(second.Completion)).Tokens.Count);
        Assert.Equal(4, (await Soon(small.Completion)).Tokens.Count);
        Assert.InRange(observer.MostKvBytes, 1, budget);
        // The first ran alone; the second and the small one (25 + 5 positions) then ran together.
        Assert.Equal(2, observer.MostSequences);
        // The reservation is published between steps, just after the last request heard it was done.
        await WaitUntil(() => batcher.KvReservedBytes == 0);
    }

    [Fact]
    public void AKvCacheNeverGrowsPastItsLength()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 44).BuildModel();
        var request = Request([1, 2, 3], SamplingOptions.Greedy with { MaxTokens = 20, StopTokenIds = [] });
        using var state = new SequenceState(model, request);
        Assert.Equal(23, SequenceState.PositionsNeeded(Config, request));
        while (state.Finished is null)
        {
            using Tensor logits = model.Forward([state.NextStep()]);
            state.Accept(TensorSpans.Floats(logits));
        }
        Assert.Equal(20, state.Generated.Count);
        // Doubling from 16 would have made 32 rows; the cache stops at the 23 its request can need.
        Assert.Equal(SequenceState.KvBytesNeeded(Config, request), state.Cache.Bytes);
    }

    /// <summary>
    /// Runs experts locally, but in the first step with all <see cref="Sequences"/> sequences reports the expert that row 0
    /// chose at <see cref="Layer"/> as failed for every row routed to it, as the served dispatcher does for an expert copy
    /// that produced NaN.
    /// </summary>
    sealed class OneBadExpertDispatcher(MoeModel model) : IExpertDispatcher
    {
        public const int Sequences = 8;
        public const int Layer = 1;
        readonly LocalExpertDispatcher _local = new(model);
        public readonly HashSet<ulong> FailedRequests = [];
        bool _done;

        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            await _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
            // The first step that carries every sequence (requests may be admitted over two steps).
            if (layer != Layer || _done || rows.Requests.ToArray().Distinct().Count() < Sequences) return;
            _done = true;
            int bad = plan.ChosenExperts[0];
            var failed = new List<int>();
            for (int row = 0; row < plan.TokenCount; row++)
                for (int s = 0; s < plan.TopK; s++)
                    if (plan.ChosenExperts[row * plan.TopK + s] == bad)
                    {
                        failed.Add(row);
                        FailedRequests.Add(rows.Requests[row]);
                    }
            Assert.NotNull(rows.Failures);
            rows.Failures.Fail(failed, new InvalidOperationException($"expert {Layer}/{bad} produced NaN"));
        }
    }

    [Fact]
    public async Task AFailedExpertFailsOnlyTheSequencesRoutedToItAndTheOthersAreUnchanged()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 45).BuildModel();
        int[][] prompts = [[1], [9], [4, 4], [17], [30], [5, 6], [11], [23]];
        GenerationRequest[] requests = prompts.Select((p, i) =>
            Request(p, SamplingOptions.Greedy with { MaxTokens = 10, StopTokenIds = [] }) with { RequestKey = (ulong)(i + 1) }).ToArray();
        var expected = new ReferenceGenerator(model).Run(requests, maxBatch: 1);
        var dispatcher = new OneBadExpertDispatcher(model);
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions(), NullLogger.Instance);

        GenerationStream[] streams = requests.Select(r => batcher.Submit(r)).ToArray();
        // Every request ends one way or the other before the test looks at which ones the bad expert saw.
        foreach (GenerationStream stream in streams) await Soon(stream.Completion.ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default));
        int failed = 0;
        for (int i = 0; i < streams.Length; i++)
        {
            if (dispatcher.FailedRequests.Contains(requests[i].RequestKey))
            {
                var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Soon(streams[i].Completion));
                Assert.Contains("produced NaN", error.Message);
                failed++;
                continue;
            }
            Assert.Equal(expected[i].Tokens, (await Soon(streams[i].Completion)).Tokens);
        }
        Assert.InRange(failed, 1, streams.Length - 1);
        Assert.Equal(BatcherHealth.Serving, batcher.Health);
    }

    [Fact]
    public void StepFailuresKeepTheFirstReasonPerRowAndResetBetweenSteps()
    {
        var failures = new StepFailures();
        failures.Reset(6);
        Assert.False(failures.Any);
        var first = new InvalidOperationException("first");
        failures.Fail([1, 2], first);
        failures.Fail([2, 4], new InvalidOperationException("second"));
        Assert.Null(failures.FirstIn(0, 1));
        Assert.Same(first, failures.FirstIn(0, 3));
        Assert.Same(first, failures.FirstIn(2, 1));
        Assert.Equal("second", failures.FirstIn(3, 3)!.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => failures.Fail([6], first));
        failures.Reset(6);
        Assert.Null(failures.FirstIn(0, 6));
    }

    [Fact]
    public async Task InvalidRequestsAreRefusedBeforeQueueing()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 35).BuildModel();
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions(), NullLogger.Instance);
        Assert.Throws<ArgumentException>(() => batcher.Submit(Request([], SamplingOptions.Greedy)));
        Assert.Throws<ArgumentException>(() => batcher.Submit(Request([1, 50], SamplingOptions.Greedy)));
        Assert.Throws<ArgumentException>(() => batcher.Submit(Request(new int[300], SamplingOptions.Greedy)));
        Assert.Throws<ArgumentException>(() => batcher.Submit(Request([1], new SamplingOptions { TopP = 0 })));
        Assert.Equal(0, batcher.QueueDepth);
    }

    [Fact]
    public async Task AnOutOfVocabularyPromptTokenIsNamedByPositionNeverByItsId()
    {
        // Failure logs keep the message, and token ids are the client's content.
        using MoeModel model = new TinyModelWeights(Config, seed: 35).BuildModel();
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions(), NullLogger.Instance);
        const int Secret = 987654;
        var error = Assert.Throws<ArgumentException>(() => batcher.Submit(Request([1, 2, Secret], SamplingOptions.Greedy)));
        Assert.Contains("position 2", error.Message);
        Assert.DoesNotContain(Secret.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
        Assert.Equal(0, batcher.QueueDepth);
    }

    [Fact]
    public async Task AnOutOfVocabularyStopTokenIsNamedByIndexNeverByItsId()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 35).BuildModel();
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions(), NullLogger.Instance);
        const int Secret = 876543;
        var error = Assert.Throws<ArgumentException>(() => batcher.Submit(Request([1, 2], SamplingOptions.Greedy with { StopTokenIds = [3, Secret] })));
        Assert.Contains("stop token at index 1", error.Message);
        Assert.DoesNotContain(Secret.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Fact]
    public async Task AFailedStepFailsItsRequestsAndTheBatcherServesTheNextOnes()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 36).BuildModel();
        var dispatcher = new GatedDispatcher(model).Open();
        dispatcher.Failure = new InvalidOperationException("expert 0/3 produced NaN");
        await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions(), NullLogger.Instance);
        var options = SamplingOptions.Greedy with { MaxTokens = 5, StopTokenIds = [] };
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.Submit(Request([1, 2], options)).Completion);
        Assert.Contains("NaN", error.Message);

        dispatcher.Failure = null;
        Assert.Equal(5, (await batcher.Submit(Request([1, 2], options)).Completion).Tokens.Count);
    }

    [Fact]
    public async Task DrainingFinishesQueuedWorkAndRefusesNewWork()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 37).BuildModel();
        await using var batcher = new ContinuousBatcher(model, new LocalExpertDispatcher(model), new BatcherOptions { MaxBatchSequences = 1 }, NullLogger.Instance);
        var options = SamplingOptions.Greedy with { MaxTokens = 10, StopTokenIds = [] };
        GenerationStream[] streams = Enumerable.Range(1, 4).Select(i => batcher.Submit(Request([i], options))).ToArray();
        await batcher.DrainAsync(CancellationToken.None);
        foreach (GenerationStream s in streams) Assert.Equal(10, (await s.Completion).Tokens.Count);
        Assert.Throws<ObjectDisposedException>(() => batcher.Submit(Request([1], options)));
    }

    static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 500 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }
}
