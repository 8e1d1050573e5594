using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

public class ExpertLookaheadTests
{
    static readonly Model.Configuration.ModelConfig Config = TinyModelWeights.TinyConfig() with { LayerCount = 3 };

    sealed class Recording(int ahead, float threshold) : IExpertLookahead
    {
        int _asking = -1;
        public List<(int From, int Layer, long[] Experts)> Predictions { get; } = [];
        public List<int> Asked { get; } = [];

        public int LayersAhead(int layer)
        {
            _asking = layer;
            Asked.Add(layer);
            return ahead;
        }

        public float Threshold(int layer) => threshold;
        public void Predicted(int layer, ReadOnlySpan<long> experts) => Predictions.Add((_asking, layer, experts.ToArray()));
        public List<(int Layer, int[] Experts)> Choices { get; } = [];
        public void Chosen(int layer, RoutingPlan plan) => Choices.Add((layer, plan.ActiveExperts().ToArray()));
    }

    /// <summary>The local dispatcher, keeping a copy of each layer's MoE input.</summary>
    sealed class Keeping(MoeModel model) : IExpertDispatcher
    {
        readonly LocalExpertDispatcher _local = new(model);
        public Dictionary<int, Tensor> Inputs { get; } = [];
        public List<(int Layer, int[] Experts)> Dispatched { get; } = [];

        public Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            Dispatched.Add((layer, plan.ActiveExperts().ToArray()));
            Inputs[layer] = moeInput.clone().DetachFromDisposeScope();
            return _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
        }
    }

    [Theory]
    [InlineData(1, 0f)]
    [InlineData(2, 0.4f)]
    [InlineData(5, 0f)]
    public async Task TheModelHandsOnWhatTheNextLayersGatesPickFromEachLayersInput(int ahead, float threshold)
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 41).BuildModel();
        var lookahead = new Recording(ahead, threshold);
        var dispatcher = new Keeping(model);
        using KvCache cache = model.CreateCache();
        using Tensor logits = await model.ForwardAsync([new SequenceStep(cache, new[] { 3, 5, 7, 2 })], dispatcher, lookahead: lookahead);

        Assert.Equal([0, 1, 2], lookahead.Asked);
        // Each layer's choice is told before its dispatch, with the plan the dispatcher then runs.
        Assert.Equal(dispatcher.Dispatched.Select(d => d.Layer), lookahead.Choices.Select(c => c.Layer));
        Assert.Equal(dispatcher.Dispatched.Select(d => d.Experts), lookahead.Choices.Select(c => c.Experts));
        var expected = new List<(int, int)>();
        for (int layer = 0; layer < Config.LayerCount; layer++)
            for (int next = layer + 1; next <= Math.Min(Config.LayerCount - 1, layer + ahead); next++) expected.Add((layer, next));
        Assert.Equal(expected, lookahead.Predictions.Select(p => (p.From, p.Layer)));
        foreach (var (from, layer, experts) in lookahead.Predictions)
        {
            Assert.Equal(model.Layers[layer].Moe.Gate.Predict(dispatcher.Inputs[from], threshold), experts);
            Assert.Equal(experts.Order().Distinct(), experts);
            Assert.NotEmpty(experts);
        }
        foreach (Tensor input in dispatcher.Inputs.Values) input.Dispose();
    }

    [Fact]
    public async Task PredictingChangesNoLogit()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 42).BuildModel();
        using KvCache plain = model.CreateCache(), predicted = model.CreateCache();
        int[] prompt = [4, 9, 1, 12, 6];
        using Tensor expected = await model.ForwardAsync([new SequenceStep(plain, prompt)], new LocalExpertDispatcher(model));
        using Tensor actual = await model.ForwardAsync([new SequenceStep(predicted, prompt)], new LocalExpertDispatcher(model), lookahead: new Recording(2, 0f));
        Assert.Equal(expected.data<float>().ToArray(), actual.data<float>().ToArray());
    }

    [Fact]
    public void AHigherThresholdPredictsNoMoreExperts()
    {
        var generator = new Generator(5);
        using var gate = new MoeGate(randn([6, 8], generator: generator), 2, normalizeTopK: true);
        using Tensor hidden = randn([10, 8], generator: generator);
        var (experts, _) = gate.Route(hidden);
        using (experts)
            Assert.Equal(experts.data<long>().ToArray().Distinct().Order(), gate.Predict(hidden, 0f));
        Assert.Empty(gate.Predict(hidden, 1.01f));
        Assert.Subset(gate.Predict(hidden, 0f).ToHashSet(), gate.Predict(hidden, 0.5f).ToHashSet());
    }
}
