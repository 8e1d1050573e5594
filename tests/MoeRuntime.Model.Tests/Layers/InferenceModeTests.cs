using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>
/// The model runs in libtorch's inference mode one synchronous stretch at a time (<c>Inference.Enter</c>): the mode is per
/// thread, and a dispatch may resume on another, so no stretch may hold it across an await and every in-place update of a
/// tensor made in it must enter it too.
/// </summary>
public class InferenceModeTests
{
    static readonly Model.Configuration.ModelConfig Config = TinyModelWeights.TinyConfig() with
    {
        VocabularySize = 50, HiddenSize = 32, AttentionHeadCount = 4, KeyValueHeadCount = 2, HeadDimension = 8,
        ExpertIntermediateSize = 24, ExpertCount = 8, LayerCount = 3, MaxPositionEmbeddings = 256, EndOfSequenceTokenIds = [0],
    };

    /// <summary>Answers every layer on another thread (after a yield to the thread pool), then computes it in-process.</summary>
    sealed class ElsewhereDispatcher(MoeModel model) : IExpertDispatcher
    {
        readonly LocalExpertDispatcher _local = new(model);
        public int Hops;

        public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
        {
            int before = Environment.CurrentManagedThreadId;
            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
            if (Environment.CurrentManagedThreadId != before) Interlocked.Increment(ref Hops);
            await _local.DispatchAsync(layer, plan, moeInput, output, rows, cancellationToken);
        }
    }

    static SequenceStep[] Steps(KvCache[] caches, int[][] tokens) =>
        tokens.Select((t, i) => new SequenceStep(caches[i], t, RequestKey: (ulong)(200 + i))).ToArray();

    [Fact]
    public async Task AStepWhoseDispatchesResumeOnOtherThreadsComputesTheSynchronousStepAndLeavesNoThreadInTheMode()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 81).BuildModel();
        int[][] prompts = [[1, 2, 3], [9], [4, 4, 4, 4]];
        KvCache[] synchronous = prompts.Select(_ => model.CreateCache()).ToArray(), elsewhere = prompts.Select(_ => model.CreateCache()).ToArray();
        var dispatcher = new ElsewhereDispatcher(model);
        try
        {
            // A prefill, then decodes: the caches made and grown in the mode are updated again after every hop.
            int[][][] steps = [prompts, [[7], [8], [9]], [[10], [11], [12]], [[13], [14], [15]]];
            foreach (int[][] tokens in steps)
            {
                using Tensor expected = model.Forward(Steps(synchronous, tokens));
                using Tensor actual = await model.ForwardAsync(Steps(elsewhere, tokens), dispatcher);
                float[] e = expected.data<float>().ToArray(), a = actual.data<float>().ToArray();
                Assert.Equal(e.Length, a.Length);
                for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) < 1e-4, $"value {i}: {a[i]} against {e[i]}");
                Assert.False(is_inference_mode_enabled(), "the awaiting thread was left in inference mode");
            }
            Assert.True(dispatcher.Hops > 0, "no dispatch resumed on another thread, so the test proved nothing");
            // The two paths share caches too: each goes on with the other's.
            using Tensor crossed = model.Forward(Steps(elsewhere, [[16], [17], [18]]));
            using Tensor back = await model.ForwardAsync(Steps(synchronous, [[16], [17], [18]]), dispatcher);
            Assert.Equal(crossed.shape, back.shape);
        }
        finally
        {
            foreach (KvCache cache in synchronous.Concat(elsewhere)) cache.Dispose();
        }
        // Thread-pool threads that ran the stretches after a hop are not left in the mode either.
        bool[] leaked = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(() => is_inference_mode_enabled())));
        Assert.DoesNotContain(true, leaked);
    }

    [Fact]
    public void AnExpertsOutputIsMadeInTheModeSoOnlyTheModeMayChangeItInPlace()
    {
        using MoeModel model = new TinyModelWeights(Config, seed: 82).BuildModel();
        ExpertFfn expert = model.Layers[0].Moe.Experts[0];
        using Tensor rows = randn(3, Config.HiddenSize);
        using Tensor output = expert.Forward(rows);
        // Made in the mode: libtorch refuses an in-place update outside it (the combine enters the mode for this reason).
        Assert.ThrowsAny<Exception>(() => output.add_(output, Scalars.One));
        using (inference_mode()) output.add_(output, Scalars.One);
        Assert.False(is_inference_mode_enabled());
    }
}
