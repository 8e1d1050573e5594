using System.Diagnostics;
using System.Globalization;
using MoeRuntime.LoadTests;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Model.Wire;
using static TorchSharp.torch;

namespace MoeRuntime.Wire.Benchmarks;

/// <summary>
/// The built-in model's greedy runs over a fixed prompt set with every expert's rows and answers sent through the wire
/// codec, per format against float32: prompts whose tokens all agree, leading tokens that agree, max |logit error| and
/// mean KL per token over the steps both runs share.
/// </summary>
static class AccuracyRun
{
    public static async Task<int> RunAsync(string[] args)
    {
        var a = new Arguments(args);
        int tokens = a.Int("--tokens", 32, 1, 1024);
        // One intra-op thread: on a shared machine libtorch's spinning workers only burn the cores the others need.
        set_num_threads(a.Int("--threads", 1, 1, 64));
        string[] files = a.Values("--prompts").ToArray();
        if (files.Length == 0) files = ["loadtests/prompts/prose.txt", "loadtests/prompts/numbers.txt"];
        string[] prompts = files.SelectMany(f => File.Exists(f) ? File.ReadAllLines(f) : throw new ArgumentException($"--prompts: no file {f}"))
            .Where(l => l.Length > 0).ToArray();
        var recipe = new DefaultModelRecipe();
        using InMemoryTensorSource source = DefaultModelWeights.Generate(recipe);
        using var model = MoeModelAssembler.Assemble(recipe.Config, source, CPU);
        var tokenizer = new ByteLevelTokenizer();
        var started = Stopwatch.StartNew();
        var baseline = new List<GenerationResult>();
        foreach (string prompt in prompts) baseline.Add(await WireAccuracy.GreedyAsync(model, tokenizer.Encode(prompt), tokens, WireFormat.Float32));
        var table = new MarkdownTable("format", "bytes / element", "prompts identical", "leading tokens agreeing", "max |logit error|", "mean KL / token (nats)", "worst prompt mean KL (nats)");
        foreach (WireFormat format in new[] { WireFormat.Float32, WireFormat.Float16, WireFormat.BFloat16 })
        {
            var agreements = new List<WireAgreement>();
            for (int i = 0; i < prompts.Length; i++)
            {
                agreements.Add(WireAccuracy.Compare(baseline[i], await WireAccuracy.GreedyAsync(model, tokenizer.Encode(prompts[i]), tokens, format)));
                Console.Error.WriteLine($"{WireCodec.Name(format)} prompt {i + 1}/{prompts.Length}: {agreements[^1]}");
            }
            table.Add(WireCodec.Name(format), WireCodec.ElementBytes(format).ToString(CultureInfo.InvariantCulture),
                $"{agreements.Count(g => g.Identical)} / {agreements.Count}",
                $"{agreements.Sum(g => g.AgreedTokens)} / {agreements.Sum(g => g.Tokens)}",
                agreements.Max(g => g.MaxLogitError).ToString("G3", CultureInfo.InvariantCulture),
                agreements.Average(g => g.MeanKl).ToString("G3", CultureInfo.InvariantCulture),
                agreements.Max(g => g.MeanKl).ToString("G3", CultureInfo.InvariantCulture));
        }
        Console.WriteLine($"Built-in model ({recipe.Config.LayerCount} layers, hidden {recipe.Config.HiddenSize}, top-{recipe.Config.ExpertsPerToken} of {recipe.Config.ExpertCount}), " +
            $"{prompts.Length} prompts ({string.Join(", ", files)}), greedy, {tokens} tokens each; expert rows and answers both through the codec; {started.Elapsed.TotalSeconds:0} s:\n");
        Console.WriteLine(table.Render());
        return 0;
    }
}
