using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Sampling;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>Micro-batch overlap (<see cref="OverlapOptions"/>): the split, the failures' rows, and that a split step computes the unsplit one.</summary>
public class MicroBatchTests
{
    static readonly Model.Configuration.ModelConfig Config = TinyModelWeights.TinyConfig() with
    {
        VocabularySize = 50, HiddenSize = 32, AttentionHeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 8,
        ExpertIntermediateSize = 24, ExpertCount = 8, LayerCount = 3, MaxPositionEmbeddings = 256, EndOfSequenceTokenIds = [0],
    };

    static readonly OverlapOptions Two = new() { MicroBatches = 2, MinSequences = 2 };

    [Theory]
    [InlineData(new[] { 1, 1, 1, 1 }, 2, new[] { 0, 2, 4 })]
    [InlineData(new[] { 1, 1, 1, 1, 1 }, 2, new[] { 0, 2, 5 })]
    [InlineData(new[] { 1, 1, 1, 1, 1, 1, 1, 1 }, 3, new[] { 0, 3, 5, 8 })]
    [InlineData(new[] { 9, 9, 1 }, 3, new[] { 0, 1, 2, 3 })]
    [InlineData(new[] { 10, 1, 1, 1 }, 2, new[] { 0, 1, 4 })]
    [InlineData(new[] { 1, 1, 1, 10 }, 2, new[] { 0, 3, 4 })]
    [InlineData(new[] { 1, 1, 1, 1, 1, 1 }, 3, new[] { 0, 2, 4, 6 })]
    [InlineData(new[] { 1, 1 }, 4, new[] { 0, 1, 2 })]
    [InlineData(new[] { 7 }, 2, new[] { 0, 1 })]
    [InlineData(new[] { 3, 2, 1 }, 1, new[] { 0, 3 })]
    public void TheSplitCutsWholeSequencesIntoContiguousGroupsOfAboutEqualTokens(int[] tokens, int groups, int[] expected)
    {
        int[] starts = MicroBatchSplit.Starts(tokens, groups);
        Assert.Equal(expected, starts);
        // Never an empty group, never more groups than sequences.
        for (int g = 0; g + 1 < starts.Length; g++) Assert.True(starts[g + 1] > starts[g], $"group {g} is empty");
    }

    [Fact]
    public void TheSplitsRowsFollowTheSequencesTokens()
    {
        int[] tokens = [3, 1, 1, 5, 1];
        int[] starts = MicroBatchSplit.Starts(tokens, 2);
        Assert.Equal([0, 3, 5], starts);
        Assert.Equal([0, 5, 11], MicroBatchSplit.RowStarts(tokens, starts));
    }

    [Fact]
    public void TheSplitRefusesBadInputNamingWhatIsWrong()
    {
        Assert.Contains("at least one sequence", Assert.Throws<ArgumentException>(() => MicroBatchSplit.Starts([], 2)).Message);
        Assert.Contains("has 0", Assert.Throws<ArgumentException>(() => MicroBatchSplit.Starts([1, 0], 2)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MicroBatchSplit.Starts([1, 1], 0));
    }

    [Fact]
    public void OptionsSplitOnlyWithMoreThanOneMicroBatchAndEnoughSequences()
    {
        Assert.False(new OverlapOptions().Splits(32));
        var options = new OverlapOptions { MicroBatches = 2, MinSequences = 4 };
        Assert.False(options.Splits(3));
        Assert.True(options.Splits(4));
        options.Validate();
        Assert.Contains("OverlapOptions.MicroBatches", Assert.Throws<ArgumentException>(() => new OverlapOptions { MicroBatches = 0 }.Validate()).Message);
        Assert.Contains("OverlapOptions.MicroBatches", Assert.Throws<ArgumentException>(() => new OverlapOptions { MicroBatches = 17 }.Validate()).Message);
        Assert.Contains("OverlapOptions.MinSequences", Assert.Throws<ArgumentException>(() => new OverlapOptions { MinSequences = 1 }.Validate()).Message);
        Assert.Contains("OverlapOptions.MinSequences", Assert.Throws<ArgumentException>(
            () => new BatcherOptions { Overlap = new OverlapOptions { MinSequences = 0 } }.Validate()).Message);
    }

    [Fact]
    public void AMicroBatchsFailuresLandOnTheStepsRows()
    {
        var step = new StepFailures();
        step.Reset(10);
        var part = new StepFailures();
        part.Reset(4);
        var fault = new InvalidOperationException("expert 3 produced NaN");
        part.Fail([1, 3], fault);
        step.Include(part, offset: 6, rows: 4);
        Assert.True(step.Any);
        Assert.Null(step.FirstIn(0, 7));
        Assert.Same(fault, step.FirstIn(7, 1));
        Assert.Null(step.FirstIn(8, 1));
        Assert.Same(fault, step.FirstIn(9, 1));
        Assert.Contains("outside the step's 10 rows", Assert.Throws<ArgumentOutOfRangeException>(() => step.Include(part, offset: 7, rows: 4)).Message);
    }

    /// <summary>Runs experts in process after an artificial await, counting how many dispatches are in flight at once.</summary>
    sealed class DelayedDispatcher(MoeModel model, int delayMilliseconds = 2) : IExpertDispatcher
    {
        readonly LocalExpertDispatcher _local = new(model);
        int _inFlight, _mostInFlight, _calls;
        public int MostInFlight => Volatile.Read(ref _mostInFlight);
        public int Calls => Volatile.Read(ref _calls);
        public List<int> RowCounts { get; } = [];
        public Func<int, DispatchRows, Exception?>? Fault { get; set; }
        public int Completed;

        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            int now = Interlocked.Increment(ref _inFlight);
            int most;
            while (now > (most = Volatile.Read(ref _mostInFlight)) && Interlocked.CompareExchange(ref _mostInFlight, now, most) != most)
            {
            }
            Interlocked.Increment(ref _calls);
            lock (RowCounts) RowCounts.Add(rows.Count);
            try
            {
                await Task.Delay(delayMilliseconds, cancellationToken);
                if (Fault?.Invoke(layer, rows) is { } fault) throw fault;
                await _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
                Interlocked.Increment(ref Completed);
            }
        }
    }

    static SequenceStep[] Steps(KvCache[] caches, int[][] tokens) =>
        tokens.Select((t, i) => new SequenceStep(caches[i], t, RequestKey: (ulong)(100 + i))).ToArray();

    static float[] Floats(Tensor t) => t.data<float>().ToArray();

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"{what}: value {i} is {actual[i]}, unsplit {expected[i]}");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ASplitStepComputesTheUnsplitStepsLogitsAndCaches(bool delayed)
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 71).BuildModel();
        int[][] prompts = [[1, 2, 3], [9], [4, 4, 4, 4, 4, 4], [17, 30], [5, 6, 7]];
        KvCache[] whole = prompts.Select(_ => model.CreateCache()).ToArray(), split = prompts.Select(_ => model.CreateCache()).ToArray();
        try
        {
            var dispatcher = delayed ? (IExpertDispatcher)new DelayedDispatcher(model) : new LocalExpertDispatcher(model);
            // A prefill step, then two decode steps, each split against unsplit.
            int[][][] steps = [prompts, [[7], [8], [9], [10], [11]], [[12], [13], [14], [15], [16]]];
            foreach (int[][] tokens in steps)
            {
                using Tensor expected = await model.ForwardAsync(Steps(whole, tokens), new LocalExpertDispatcher(model));
                using Tensor actual = await model.ForwardAsync(Steps(split, tokens), dispatcher, overlap: Two);
                Assert.Equal(expected.shape, actual.shape);
                AssertClose(Floats(expected), Floats(actual), $"step of {tokens.Sum(t => t.Length)} tokens");
            }
            Assert.Equal(whole.Select(c => c.Length), split.Select(c => c.Length));
            Assert.Equal(steps.Length, model.SplitSteps);
            if (dispatcher is DelayedDispatcher d)
            {
                // Two micro-batches per layer per step, and the second's dispatch started while the first's was in flight.
                Assert.Equal(2 * Config.LayerCount * steps.Length, d.Calls);
                Assert.Equal(2, d.MostInFlight);
                Assert.DoesNotContain(d.RowCounts, rows => rows == prompts.Sum(p => p.Length));
            }
        }
        finally
        {
            foreach (KvCache cache in whole.Concat(split)) cache.Dispose();
        }
    }

    [Fact]
    public async Task EveryLayerIsTimedOncePerMicroBatchWithItsTokens()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 72).BuildModel();
        KvCache[] caches = Enumerable.Range(0, 4).Select(_ => model.CreateCache()).ToArray();
        var timed = new List<(int Layer, int Tokens)>();
        using Tensor logits = await model.ForwardAsync(Steps(caches, [[1, 2, 3], [4], [5, 6], [7, 8, 9]]), new DelayedDispatcher(model),
            layerTimed: (layer, _, _, tokens) => timed.Add((layer, tokens)), overlap: Two);
        foreach (KvCache cache in caches) cache.Dispose();
        Assert.Equal(2 * Config.LayerCount, timed.Count);
        for (int layer = 0; layer < Config.LayerCount; layer++)
            Assert.Equal([4, 5], timed.Where(t => t.Layer == layer).Select(t => t.Tokens));
    }

    /// <summary>Records the layers a lookahead is asked about and told the choices of, and the rows of each choice.</summary>
    sealed class Lookahead : IExpertLookahead
    {
        public List<int> Asked { get; } = [];
        public List<(int Layer, int Tokens)> Chosen { get; } = [];
        public int LayersAhead(int layer)
        {
            Asked.Add(layer);
            return 1;
        }

        public float Threshold(int layer) => 0f;
        public void Predicted(int layer, ReadOnlySpan<long> experts)
        {
        }

        void IExpertLookahead.Chosen(int layer, RoutingPlan plan) => Chosen.Add((layer, plan.TokenCount));
    }

    [Fact]
    public async Task PreGatingFollowsTheFirstMicroBatchOnlySoItsPredictionsAreScoredAgainstOneSeriesOfChoices()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 76).BuildModel();
        KvCache[] caches = Enumerable.Range(0, 4).Select(_ => model.CreateCache()).ToArray();
        var lookahead = new Lookahead();
        using Tensor logits = await model.ForwardAsync(Steps(caches, [[1, 2, 3], [4], [5, 6], [7, 8, 9]]), new DelayedDispatcher(model),
            lookahead: lookahead, overlap: Two);
        foreach (KvCache cache in caches) cache.Dispose();
        Assert.Equal(Enumerable.Range(0, Config.LayerCount), lookahead.Asked);
        Assert.Equal(Enumerable.Range(0, Config.LayerCount).Select(layer => (layer, 4)), lookahead.Chosen);
    }

    [Fact]
    public async Task AnExpertFaultInOneMicroBatchFailsOnlyItsSequencesRows()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 73).BuildModel();
        KvCache[] caches = Enumerable.Range(0, 4).Select(_ => model.CreateCache()).ToArray();
        var fault = new InvalidOperationException("expert produced NaN");
        // The third sequence (request 102, rows 3..4 of the step, rows 0..1 of the second micro-batch) loses an expert's output.
        var dispatcher = new DelayedDispatcher(model);
        var faulty = new FaultingDispatcher(dispatcher, requestKey: 102, fault);
        var failures = new StepFailures();
        using Tensor logits = await model.ForwardAsync(Steps(caches, [[1, 2], [4], [5, 6], [7]]), faulty, failures: failures, overlap: Two);
        foreach (KvCache cache in caches) cache.Dispose();
        Assert.True(failures.Any);
        Assert.Null(failures.FirstIn(0, 3));
        Assert.Same(fault, failures.FirstIn(3, 1));
        Assert.Same(fault, failures.FirstIn(4, 1));
        Assert.Null(failures.FirstIn(5, 1));
    }

    /// <summary>Records the rows of one request as failed, as a dispatcher does for an expert's own fault.</summary>
    sealed class FaultingDispatcher(IExpertDispatcher inner, ulong requestKey, Exception fault) : IExpertDispatcher
    {
        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            await inner.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
            var failed = new List<int>();
            for (int row = 0; row < rows.Count; row++)
                if (rows.Requests[row] == requestKey) failed.Add(row);
            if (failed.Count > 0) rows.Failures!.Fail(failed, fault);
        }
    }

    [Fact]
    public async Task AFailedDispatchFailsTheStepOnlyOnceTheOtherMicroBatchesDispatchHasEnded()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 74).BuildModel();
        KvCache[] caches = Enumerable.Range(0, 4).Select(_ => model.CreateCache()).ToArray();
        var dispatcher = new DelayedDispatcher(model, delayMilliseconds: 20)
        {
            // The first micro-batch's (requests 100, 101) second layer fails while the second micro-batch's first layer is in flight.
            Fault = (layer, rows) => layer == 1 && rows.Requests[0] == 100 ? new TimeoutException("rank 2 did not answer") : null,
        };
        var error = await Assert.ThrowsAsync<TimeoutException>(() => model.ForwardAsync(Steps(caches, [[1], [2], [3], [4]]), dispatcher, overlap: Two));
        Assert.Equal("rank 2 did not answer", error.Message);
        Assert.Equal(dispatcher.Calls, Volatile.Read(ref dispatcher.Completed));
        Assert.All(caches, c => Assert.Equal(0, c.Length));
        foreach (KvCache cache in caches) cache.Dispose();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task GenerationWithTwoMicroBatchesEqualsOneTokenForToken(bool delayed)
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 75).BuildModel();
        int[][] prompts = [[1, 2, 3], [9], [4, 4, 4, 4, 4, 4], [17, 30], [5, 6, 7, 8, 9, 10, 11], [3], [22, 23]];
        GenerationRequest[] requests = prompts.Select((p, i) => new GenerationRequest(p, SamplingOptions.Greedy with { MaxTokens = 12 + i, StopTokenIds = [] })).ToArray();

        async Task<List<IReadOnlyList<int>>> Generate(OverlapOptions overlap, IExpertDispatcher dispatcher)
        {
            await using var batcher = new ContinuousBatcher(model, dispatcher, new BatcherOptions { MaxBatchSequences = 8, Overlap = overlap }, NullLogger.Instance);
            GenerationStream[] streams = requests.Select(r => batcher.Submit(r)).ToArray();
            var results = new List<IReadOnlyList<int>>();
            foreach (GenerationStream stream in streams) results.Add((await stream.Completion.WaitAsync(TimeSpan.FromMinutes(2))).Tokens);
            return results;
        }

        var expected = await Generate(new OverlapOptions(), new LocalExpertDispatcher(model));
        var dispatcher = delayed ? new DelayedDispatcher(model, delayMilliseconds: 1) : null;
        var actual = await Generate(new OverlapOptions { MicroBatches = 2, MinSequences = 4 }, (IExpertDispatcher?)dispatcher ?? new LocalExpertDispatcher(model));
        Assert.Equal(expected, actual);
        if (dispatcher is not null) Assert.Equal(2, dispatcher.MostInFlight);
    }
}
