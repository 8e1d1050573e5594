using System.Collections.Concurrent;
using System.Diagnostics;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>
/// Layers under garbage collections that land during their native calls. TorchSharp 0.107 turns a literal (and the
/// implicit alpha of <c>add</c>/<c>add_</c>) into a native Scalar that nothing keeps alive once its handle is read, so a
/// collection can let the finalizer free it while libtorch reads it: "Unknown scalar type" or "Expected false to be true"
/// under load, never alone. Here one thread collects back to back while workers run the layers; every worker must see
/// only the answer it saw without collections. Bounded in count and in time; no timing is asserted.
/// </summary>
public class CollectionDuringNativeCallTests
{
    const int Workers = 3;
    static readonly TimeSpan MostTime = TimeSpan.FromSeconds(10);

    /// <summary>With RmsNorm's add_(eps) on an implicit alpha this failed 11 and 13 times in 60,000 calls (two runs); none since it holds one.</summary>
    [Fact]
    public void RmsNormGivesTheSameAnswerWhileCollectionsRun()
    {
        using var generator = new TorchSharp.torch.Generator(5);
        using Tensor x = randn([8, 64], generator: generator);
        using Tensor weight = rand([64], generator: generator);
        float[] expected;
        using (var scope = NewDisposeScope())
            expected = RmsNorm.Apply(x, weight, 1e-6).data<float>().ToArray();

        IReadOnlyList<string> failures = UnderCollections(iterations: 20_000, () =>
        {
            using var scope = NewDisposeScope();
            return RmsNorm.Apply(x, weight, 1e-6).data<float>().SequenceEqual(expected) ? null : "RmsNorm gave another answer";
        });

        Assert.Empty(failures);
    }

    /// <summary>A whole forward pass with per-head q/k norms, a clip of q/k/v and a sliding window (the Scalars attention holds).</summary>
    [Fact]
    public void AForwardPassGivesTheSameLogitsWhileCollectionsRun()
    {
        ModelConfig config = TinyModelWeights.TinyConfig(ModelArchitecture.Qwen3Moe) with { ClipQkv = 0.5, SlidingWindow = 3 };
        using MoeModel model = new TinyModelWeights(config, seed: 3).BuildModel();
        int[] sequence = [3, 7, 0, 15, 9, 2, 2, 11];
        float[] expected = Logits(model, sequence);

        IReadOnlyList<string> failures = UnderCollections(iterations: 40,
            () => Logits(model, sequence).SequenceEqual(expected) ? null : "the forward pass gave other logits");

        Assert.Empty(failures);
    }

    static float[] Logits(MoeModel model, int[] sequence)
    {
        using KvCache cache = model.CreateCache();
        using var scope = NewDisposeScope();
        // Two steps, so that the second attends a cached prefix past the window.
        model.Forward([new SequenceStep(cache, sequence[..5])]);
        return model.Forward([new SequenceStep(cache, sequence[5..])], allPositions: true).data<float>().ToArray();
    }

    /// <summary>Runs <paramref name="work"/> on <see cref="Workers"/> threads while another collects; the distinct failures seen.</summary>
    static IReadOnlyList<string> UnderCollections(int iterations, Func<string?> work)
    {
        var failures = new ConcurrentDictionary<string, int>();
        var clock = Stopwatch.StartNew();
        int running = Workers;
        var collector = new Thread(() =>
        {
            for (int i = 0; i < 1_000_000 && Volatile.Read(ref running) > 0 && clock.Elapsed < MostTime; i++)
            {
                // Generation 0 only: the Scalars at risk are new, and a young collection is cheap enough to land often.
                GC.Collect(0, GCCollectionMode.Forced, blocking: true);
                GC.WaitForPendingFinalizers();
            }
        });
        var workers = Enumerable.Range(0, Workers).Select(_ => new Thread(() =>
        {
            try
            {
                for (int i = 0; i < iterations && clock.Elapsed < MostTime; i++)
                {
                    try
                    {
                        if (work() is { } wrong) failures.AddOrUpdate(wrong, 1, (_, n) => n + 1);
                    }
                    catch (Exception e)
                    {
                        failures.AddOrUpdate($"{e.GetType().Name}: {e.Message.Split('\n')[0]}", 1, (_, n) => n + 1);
                    }
                }
            }
            finally
            {
                Interlocked.Decrement(ref running);
            }
        })).ToArray();
        collector.Start();
        foreach (Thread worker in workers) worker.Start();
        foreach (Thread worker in workers) worker.Join();
        collector.Join();
        return failures.Select(f => $"{f.Value} x {f.Key}").ToList();
    }
}
