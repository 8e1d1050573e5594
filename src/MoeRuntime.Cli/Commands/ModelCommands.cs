using System.CommandLine;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tokenization;
using static TorchSharp.torch;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe model init</c> and <c>moe model stats</c>.</summary>
static class ModelCommands
{
    public static Command Create() => new("model", "Create and inspect models") { Init(), Stats() };

    static Command Init()
    {
        var output = new Option<string>("--output") { Description = "Directory to write", DefaultValueFactory = _ => DefaultModelLocation.Directory };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the weights", DefaultValueFactory = _ => DefaultModelRecipe.DefaultSeed };
        var force = new Option<bool>("--force") { Description = "Overwrite an existing checkpoint" };
        var command = new Command("init", "Write the built-in model (4 layers x 8 experts, bfloat16) as a Hugging Face checkpoint") { output, seed, force };
        command.SetAction(result =>
        {
            string directory = Path.GetFullPath(result.GetValue(output)!);
            if (DefaultModelWriter.Exists(directory) && !result.GetValue(force))
            {
                Console.Error.WriteLine($"{directory} already holds a checkpoint; pass --force to overwrite it");
                return 1;
            }
            WriteDefaultModel(directory, new DefaultModelRecipe { Seed = result.GetValue(seed) });
            return 0;
        });
        return command;
    }

    /// <summary>Writes the built-in model with progress on stderr.</summary>
    public static void WriteDefaultModel(string directory, DefaultModelRecipe recipe)
    {
        var progress = new ConsoleProgress("model init");
        DefaultModelWriter.Write(directory, recipe, progress);
        long bytes = Directory.EnumerateFiles(directory).Sum(f => new FileInfo(f).Length);
        progress.Report($"wrote {directory} ({bytes / 1e6:F1} MB, seed {recipe.Seed})");
    }

    static Command Stats()
    {
        var model = CommonOptions.Model();
        var text = new Option<string?>("--text") { Description = "UTF-8 text file to route (default: a built-in English sample)" };
        var command = new Command("stats", "Route a text through the model and report expert skew and reuse per layer") { model, text };
        command.SetAction(result =>
        {
            string directory = result.GetValue(model)!;
            using MoeModel loaded = ModelLoader.Load(directory, CPU);
            ITextTokenizer tokenizer = TokenizerLoader.Load(directory, loaded.Config);
            string? path = result.GetValue(text);
            int[] tokens = tokenizer.Encode(path is null ? SampleText.English : File.ReadAllText(path)).ToArray();
            RoutingStatistics stats = RoutingStatistics.Measure(loaded, tokens);
            Console.WriteLine($"{tokens.Length} tokens, top-{loaded.Config.ExpertsPerToken} of {loaded.Config.ExpertCount} experts");
            Console.WriteLine("layer  top1-share  top2-share  imbalance  reuse   hits per expert");
            for (int l = 0; l < stats.LayerCount; l++)
            {
                string hits = string.Join(" ", Enumerable.Range(0, stats.ExpertCount).Select(e => stats.Hits(l, e).ToString().PadLeft(5)));
                Console.WriteLine($"{l,5}  {stats.TopShare(l, 1),10:P1}  {stats.TopShare(l, 2),10:P1}  {stats.Imbalance(l),9:F2}  {stats.Reuse(l),5:P0}  {hits}");
            }
            return 0;
        });
        return command;
    }
}
