using System.Security.Cryptography;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.DefaultModel;

/// <summary>The built-in model: deterministic from its seed, loadable, and routed the way real MoE models route.</summary>
public class DefaultModelTests : IClassFixture<DefaultModelTests.Checkpoint>
{
    /// <summary>One default checkpoint written for the whole class (about a second and 50 MB).</summary>
    public sealed class Checkpoint : IDisposable
    {
        public TempDirectory Directory { get; } = new();
        public Checkpoint() => DefaultModelWriter.Write(Directory.Path);
        public void Dispose() => Directory.Dispose();
    }

    readonly string _directory;

    public DefaultModelTests(Checkpoint checkpoint) => _directory = checkpoint.Directory.Path;

    static Dictionary<string, string> Hashes(string directory) =>
        System.IO.Directory.GetFiles(directory).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void TheSameSeedWritesTheSameBytes()
    {
        using var again = new TempDirectory();
        DefaultModelWriter.Write(again.Path);
        Assert.Equal(Hashes(_directory), Hashes(again.Path));
        Assert.True(Hashes(_directory).Count >= 4, "config, index and at least two shards");
    }

    [Fact]
    public void EachExpertIsAboutOnePointFiveMegabytes()
    {
        using var checkpoint = Model.Checkpoints.SafetensorsCheckpoint.Open(_directory);
        long expert = checkpoint.Tensors.Values.Where(e => e.Name.Contains(".experts.0.")).Where(e => e.Name.Contains("layers.0.")).Sum(e => e.Length);
        Assert.Equal(3L * 256 * 1024 * 2, expert);
    }

    [Fact]
    public void RoutingIsSkewedAndPartlyReusedLikeRealMoeTraces()
    {
        using MoeModel model = ModelLoader.Load(_directory, CPU);
        int[] tokens = new ByteLevelTokenizer().Encode(SampleText.English).ToArray();
        RoutingStatistics stats = RoutingStatistics.Measure(model, tokens);
        for (int layer = 0; layer < stats.LayerCount; layer++)
        {
            // Uniform routing would give 12.5% to the busiest expert and reuse about 25% of a token's experts.
            Assert.InRange(stats.TopShare(layer, 1), 0.2, 0.5);
            Assert.InRange(stats.TopShare(layer, 2), 0.4, 0.75);
            Assert.InRange(stats.Reuse(layer), 0.28, 0.5);
            Assert.True(Enumerable.Range(0, stats.ExpertCount).Count(e => stats.Hits(layer, e) > 0) >= 6, $"layer {layer} uses too few experts");
        }
    }

    [Fact]
    public void RoutingDependsOnTheInput()
    {
        using MoeModel model = ModelLoader.Load(_directory, CPU);
        var tokenizer = new ByteLevelTokenizer();
        RoutingStatistics prose = RoutingStatistics.Measure(model, tokenizer.Encode(SampleText.English[..400]).ToArray());
        RoutingStatistics digits = RoutingStatistics.Measure(model, tokenizer.Encode(string.Concat(Enumerable.Repeat("3141592653 5897932384 ", 18))).ToArray());
        int differing = Enumerable.Range(0, prose.LayerCount).Count(l =>
            Enumerable.Range(0, prose.ExpertCount).MaxBy(e => prose.Hits(l, e)) != Enumerable.Range(0, digits.ExpertCount).MaxBy(e => digits.Hits(l, e)));
        Assert.True(differing >= 2, $"only {differing} layers changed their busiest expert between prose and digits");
    }

    [Fact]
    public void GeneratesReproducibleTextThroughTheByteTokenizer()
    {
        using MoeModel model = ModelLoader.Load(_directory, CPU);
        ITextTokenizer tokenizer = TokenizerLoader.Load(_directory);
        Assert.IsType<ByteLevelTokenizer>(tokenizer);
        var request = new GenerationRequest(tokenizer.Encode("The experts"), new SamplingOptions { Seed = 5, MaxTokens = 32 });
        var generator = new ReferenceGenerator(model);
        string first = tokenizer.Decode(generator.Stream(request).ToArray());
        string second = tokenizer.Decode(generator.Stream(request).ToArray());
        Assert.Equal(first, second);
        Assert.NotEmpty(first);
    }
}
