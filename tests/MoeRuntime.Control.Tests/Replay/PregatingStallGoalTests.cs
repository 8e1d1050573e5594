using MoeRuntime.Control.Prefetch;
using MoeRuntime.Control.Replay;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Traces;
using static TorchSharp.torch;

namespace MoeRuntime.Control.Tests.Replay;

/// <summary>
/// Issue 18's stall goal on the built-in model: one generation records its routing and scores pre-gating as a router does
/// (the model's own predictions, lookahead 1, threshold 0); replaying that trace with prefetch at the accuracy measured in
/// the same run must stall at most half of what LRU stalls without prefetch, at 4 of 8 experts hot. Stall is the
/// replay's modelled seconds (demand fetches × fetch time): deterministic, no timing. The same trace pins the goal's
/// other half on the built-in model: the controllers' policy misses no more than LRU at 2–6 of 8 experts hot, planning
/// every step and every 32 steps.
/// </summary>
public sealed class PregatingStallGoalTests : IClassFixture<PregatingStallGoalTests.BuiltInRun>
{
    const int Capacity = 4;
    readonly BuiltInRun _run;

    public PregatingStallGoalTests(BuiltInRun run) => _run = run;

    /// <summary>The built-in model generating from the docs' prompt and seed, with its routing trace and measured pre-gating.</summary>
    public sealed class BuiltInRun : IDisposable
    {
        public const int Tokens = 250;
        readonly string _directory = Path.Combine(Path.GetTempPath(), "moe-pregating-goal-" + Guid.NewGuid().ToString("N"));

        public BuiltInRun()
        {
            DefaultModelWriter.Write(_directory);
            using MoeModel model = ModelLoader.Load(_directory, CPU);
            ITextTokenizer tokenizer = TokenizerLoader.Load(_directory, model.Config);
            var tally = new PregatingTally(model.Config.LayerCount, model.Config.ExpertCount, maxLookahead: 1);
            using var stream = new MemoryStream();
            var recorder = new RoutingTraceRecorder(new RoutingTraceWriter(stream, RecordingExpertDispatcher.HeaderFor(model.Config, "default"), leaveOpen: true));
            var dispatcher = new RecordingExpertDispatcher(new LocalExpertDispatcher(model), recorder);
            var options = new SamplingOptions { Temperature = 0.8, TopP = 0.95, Seed = 1, MaxTokens = Tokens, StopTokenIds = tokenizer.EndOfSequenceIds };
            var request = new GenerationRequest(tokenizer.Encode("The experts of the first layer", addBeginOfSequence: true), options) { RequestKey = 1 };
            using (var sequence = new SequenceState(model, request))
            {
                var lookahead = new Lookahead(tally);
                while (sequence.Finished is null)
                {
                    using Tensor logits = model.ForwardAsync([sequence.NextStep()], dispatcher, lookahead: lookahead).GetAwaiter().GetResult();
                    sequence.Accept(TensorSpans.Floats(logits));
                }
            }
            recorder.DisposeAsync().AsTask().GetAwaiter().GetResult();
            stream.Position = 0;
            using var reader = new RoutingTraceReader(stream, leaveOpen: true);
            Trace = ReplayTrace.Load(reader);
            Measured = tally.Totals();
        }

        public ReplayTrace Trace { get; }
        public IReadOnlyList<PregatingAccuracy> Measured { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>Pre-gating one layer ahead with every top-k choice, scored as the router's prefetcher scores it.</summary>
    sealed class Lookahead(PregatingTally tally) : IExpertLookahead
    {
        int _from;
        readonly List<int> _chosen = [];

        public int LayersAhead(int layer)
        {
            _from = layer;
            return 1;
        }

        public float Threshold(int layer) => 0;
        public void Predicted(int layer, ReadOnlySpan<long> experts) => tally.Predicted(_from, layer, experts);

        public void Chosen(int layer, RoutingPlan plan)
        {
            _chosen.Clear();
            _chosen.AddRange(plan.ActiveExperts());
            tally.Chosen(layer, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_chosen));
        }
    }

    ReplayResult Replay(string policy, bool prefetch) => ReplaySimulator.Replay(_run.Trace, ReplayPolicies.Create(policy), new ReplayOptions
    {
        CapacityPerLayer = Capacity,
        ExpertBytes = _run.Trace.ExpertBytes ?? 0,
        Prefetch = prefetch,
        PrefetchMeasured = prefetch ? _run.Measured : null,
        // A layer the measurement missed would fall back to this; none may (checked below), so it cannot flatter the result.
        PrefetchAccuracy = 0,
    });

    [Fact]
    public void Every_predicted_layer_is_measured()
    {
        Assert.Equal(Enumerable.Range(1, _run.Trace.Layers - 1), _run.Measured.Where(m => m.Lookahead == 1 && m.Actual > 0).Select(m => m.Layer));
        Assert.All(_run.Measured, m => Assert.InRange(m.Hits, 0, Math.Min(m.Predicted, m.Actual)));
    }

    [Theory]
    [InlineData(ReplayPolicies.Controller)]
    [InlineData(ReplayPolicies.Lru)]
    public void Prefetch_at_the_measured_accuracy_halves_lrus_demand_only_stall_at_4_of_8(string policy)
    {
        double lruDemandOnly = Replay(ReplayPolicies.Lru, prefetch: false).StallMilliseconds;
        double withPrefetch = Replay(policy, prefetch: true).StallMilliseconds;
        Assert.True(withPrefetch <= 0.5 * lruDemandOnly,
            $"{policy} with prefetch stalls {withPrefetch:0} ms, {withPrefetch / lruDemandOnly:0.00}x LRU's demand-only {lruDemandOnly:0} ms; measured " +
            string.Join(", ", _run.Measured.Select(m => $"L{m.Layer} precision {m.Precision:P1} recall {m.Recall:P1}")));
    }

    public static TheoryData<int, int> CapacitiesAndIntervals()
    {
        var data = new TheoryData<int, int>();
        foreach (int interval in new[] { 1, 32 })
            for (int capacity = 2; capacity <= 6; capacity++) data.Add(capacity, interval);
        return data;
    }

    [Theory]
    [MemberData(nameof(CapacitiesAndIntervals))]
    public void The_controllers_policy_misses_no_more_than_lru(int capacity, int intervalSteps)
    {
        var options = new ReplayOptions { CapacityPerLayer = capacity, ExpertBytes = _run.Trace.ExpertBytes ?? 0, IntervalSteps = intervalSteps };
        ReplayResult lru = ReplaySimulator.Replay(_run.Trace, ReplayPolicies.Create(ReplayPolicies.Lru), options);
        ReplayResult controller = ReplaySimulator.Replay(_run.Trace, ReplayPolicies.Create(ReplayPolicies.Controller), options);
        Assert.True(controller.Misses <= lru.Misses,
            $"capacity {capacity} of 8, interval {intervalSteps} steps: controller {controller.Misses} misses ({controller.HitRate:P2}), LRU {lru.Misses} ({lru.HitRate:P2})");
    }
}
