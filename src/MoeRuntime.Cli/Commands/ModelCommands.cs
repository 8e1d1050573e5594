using System.CommandLine;
using System.Text.Json;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Model;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Telemetry.Aggregation;
using static TorchSharp.torch;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe model init</c>, <c>moe model manifest</c>, <c>moe model stats</c>, <c>moe model promote</c> and <c>moe model shadow</c>.</summary>
static class ModelCommands
{
    public static Command Create() => new("model", "Create and inspect models") { Init(), Manifest(), Stats(), Promote(), Shadow() };

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

    static Command Manifest()
    {
        var directory = new Argument<string>("dir") { Description = "Checkpoint directory (safetensors shards and config.json)" };
        var verify = new Option<bool>("--verify") { Description = "Check the checkpoint against its existing manifest instead of writing one" };
        var command = new Command("manifest",
            $"Write the SHA-256 manifest ({CheckpointManifest.FileName}) of an existing checkpoint, one digest per file and per tensor, which ranks check what they serve against") { directory, verify };
        command.SetAction(result =>
        {
            string path = Path.GetFullPath(result.GetValue(directory)!);
            try
            {
                if (result.GetValue(verify)) return Verify(path);
                long started = System.Diagnostics.Stopwatch.GetTimestamp();
                CheckpointManifest manifest = CheckpointManifest.Write(path);
                Console.Error.WriteLine($"wrote {Path.Combine(path, CheckpointManifest.FileName)}: {manifest.Files.Count} files, {manifest.Tensors.Count} tensors, "
                    + $"in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:F2} s");
                Console.WriteLine($"sha256:{manifest.Digest}");
                return 0;
            }
            catch (Exception e) when (e is CheckpointException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }

    static int Verify(string directory)
    {
        if (CheckpointManifest.Load(directory) is not { } manifest)
        {
            Console.Error.WriteLine($"{directory} has no {CheckpointManifest.FileName}; write one with `moe model manifest {directory}`");
            return 1;
        }
        using (var checkpoint = SafetensorsCheckpoint.Open(directory)) manifest.CheckCovers(checkpoint);
        IReadOnlyList<string> problems = manifest.VerifyFiles(directory);
        foreach (string problem in problems) Console.Error.WriteLine(problem);
        Console.WriteLine($"sha256:{manifest.Digest} {(problems.Count == 0 ? "ok" : $"{problems.Count} of {manifest.Files.Count} files differ")}");
        return problems.Count == 0 ? 0 : 2;
    }

    /// <summary>Exit code of <c>moe model promote</c> when the gate refuses the candidate.</summary>
    const int PromotionRefused = 3;

    static Command Promote()
    {
        var model = CommonOptions.Model();
        var candidate = new Option<string>("--candidate") { Description = "The candidate checkpoint directory (same tokenizer and shape as --model)", Required = true };
        var prompts = new Option<string?>("--prompts") { Description = "UTF-8 file, one prompt per line (default: the lines of a built-in English sample)" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Greedy tokens the primary generates per prompt", DefaultValueFactory = _ => 32 };
        var gate = new ShadowGate();
        var minGreedy = new Option<double>("--min-greedy-agreement") { DefaultValueFactory = _ => gate.MinGreedyAgreement, Description = "Share of the primary's greedy tokens the candidate must also rank first" };
        var maxDivergence = new Option<double>("--max-logprob-divergence") { DefaultValueFactory = _ => gate.MaxMeanLogProbDivergence, Description = "Mean |log-prob difference| per token allowed (nats)" };
        var minRouting = new Option<double>("--min-routing-agreement") { DefaultValueFactory = _ => gate.MinRoutingAgreement, Description = "Share of positions every layer must route to the same top-k set" };
        var maxLatency = new Option<double>("--max-latency-ratio") { DefaultValueFactory = _ => gate.MaxLatencyRatio, Description = "Candidate scoring time over the primary's allowed" };
        var command = new Command("promote",
            "Shadow-evaluate a candidate checkpoint against the primary: the primary generates greedily, both score the primary's tokens "
            + "(teacher-forced, one pass each), and the gate refuses promotion (exit 3) when agreement or latency are outside the bounds")
            { model, candidate, prompts, maxTokens, minGreedy, maxDivergence, minRouting, maxLatency };
        command.SetAction(result =>
        {
            var bounds = new ShadowGate
            {
                MinGreedyAgreement = result.GetValue(minGreedy), MaxMeanLogProbDivergence = result.GetValue(maxDivergence),
                MinRoutingAgreement = result.GetValue(minRouting), MaxLatencyRatio = result.GetValue(maxLatency),
            };
            int tokens = result.GetValue(maxTokens);
            try
            {
                bounds.Validate();
                if (tokens < 1) throw new ArgumentException($"--max-tokens must be at least 1, was {tokens}");
                string primaryDir = result.GetValue(model)!, candidateDir = Path.GetFullPath(result.GetValue(candidate)!);
                using MoeModel primary = ModelLoader.Load(primaryDir, CPU);
                using MoeModel shadow = ModelLoader.Load(candidateDir, CPU);
                ITextTokenizer tokenizer = TokenizerLoader.Load(primaryDir, primary.Config);
                string? path = result.GetValue(prompts);
                string[] lines = (path is null ? SampleText.English.Split('.', '\n') : File.ReadAllLines(path))
                    .Select(l => l.Trim()).Where(l => l.Length > 0).Take(64).ToArray();
                if (lines.Length == 0) throw new ArgumentException($"{path} has no prompt (one per line)");
                var generator = new ReferenceGenerator(primary);
                ShadowAgreement? total = null;
                foreach (string line in lines)
                {
                    IReadOnlyList<int> prompt = tokenizer.Encode(line);
                    IReadOnlyList<int> completion = generator.Run([new GenerationRequest(prompt, SamplingOptions.Greedy with { MaxTokens = tokens, StopTokenIds = [] })])[0].Tokens;
                    if (completion.Count == 0) continue;
                    ShadowAgreement a = ShadowAgreement.Compare(SequenceScore.Of(primary, prompt, completion), SequenceScore.Of(shadow, prompt, completion), completion);
                    total = total is null ? a : total.Merge(a);
                }
                if (total is null) throw new ArgumentException("the primary generated no token for any prompt");
                Console.WriteLine($"{lines.Length} prompts, {total.Tokens} tokens: greedy agreement {total.GreedyAgreement:P2}, "
                    + $"log-prob divergence mean {total.MeanLogProbDivergence:F4} max {total.MaxLogProbDivergence:F4} nats, latency ratio {total.LatencyRatio:F2}");
                Console.WriteLine("routing agreement per layer: " + string.Join(" ", total.RoutingAgreementPerLayer.Select((r, l) => $"{l}:{r:P1}")));
                IReadOnlyList<string> refusals = bounds.Refusals(total);
                foreach (string refusal in refusals) Console.Error.WriteLine($"refused: {refusal}");
                Console.WriteLine(refusals.Count == 0 ? $"promote: {candidateDir} is within the bounds" : $"not promoted: {refusals.Count} bound(s) broken");
                return refusals.Count == 0 ? 0 : PromotionRefused;
            }
            catch (Exception e) when (e is ArgumentException or CheckpointException or IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return command;
    }

    /// <summary>
    /// <c>moe model shadow</c>: the live shadow evaluation's sums over the cluster (the aggregator's view, <c>shadow</c>) judged by
    /// the same gate as <c>moe model promote</c>, with the same exit codes.
    /// </summary>
    static Command Shadow()
    {
        var window = new Option<string>("--window")
        {
            Description = "Window of the cluster aggregator's sums (20s, 1m, 5m, 1h)", DefaultValueFactory = _ => "1h",
        };
        var gate = new ShadowGate();
        var minGreedy = new Option<double>("--min-greedy-agreement") { DefaultValueFactory = _ => gate.MinGreedyAgreement, Description = "Share of the primary's most likely tokens the candidate must also rank first" };
        var maxDivergence = new Option<double>("--max-logprob-divergence") { DefaultValueFactory = _ => gate.MaxMeanLogProbDivergence, Description = "Mean |log-prob difference| per token allowed (nats)" };
        var minRouting = new Option<double>("--min-routing-agreement") { DefaultValueFactory = _ => gate.MinRoutingAgreement, Description = "Share of positions every layer must route to the same top-k set" };
        var maxLatency = new Option<double>("--max-latency-ratio") { DefaultValueFactory = _ => gate.MaxLatencyRatio, Description = "Candidate scoring time over the primary's allowed" };
        var minTokens = new Option<long>("--min-tokens") { DefaultValueFactory = _ => gate.MinTokens, Description = "Tokens compared before any verdict" };
        var command = new Command("shadow",
            "Judge the candidate served in shadow (Moe:Shadow) on the cluster's summed agreement over a window: exit 0 within the bounds, "
            + "3 refused (one refused: line per bound), 1 when no request was shadowed in the window")
            { window, minGreedy, maxDivergence, minRouting, maxLatency, minTokens };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, ct) =>
        {
            var bounds = new ShadowGate
            {
                MinGreedyAgreement = result.GetValue(minGreedy), MaxMeanLogProbDivergence = result.GetValue(maxDivergence),
                MinRoutingAgreement = result.GetValue(minRouting), MaxLatencyRatio = result.GetValue(maxLatency), MinTokens = result.GetValue(minTokens),
            };
            string w = result.GetValue(window)!;
            try
            {
                bounds.Validate();
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, ct);
            ShadowStatus? status = ShadowSection(await connection.Client.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(w));
            if (status is null)
            {
                Console.Error.WriteLine($"no request was shadowed in the last {w}: is Moe:Shadow:CandidatePath set, and is the cluster serving?");
                return 1;
            }
            Console.WriteLine($"shadow ({w}): {status.Scored} requests scored, {status.Dropped} dropped (backlog full), {status.Failed} failed");
            Console.WriteLine($"{status.Tokens} tokens: greedy agreement {status.GreedyAgreement:P2}, log-prob divergence mean {status.MeanLogProbDivergence:F4} nats, "
                + $"latency ratio {status.LatencyRatio:F2} (candidate {status.CandidateSecondsPerRequest * 1000:F1} ms per request)");
            Console.WriteLine("routing agreement per layer: " + string.Join(" ", status.RoutingAgreementPerLayer.Select((r, l) => $"{l}:{r:P1}")));
            var agreement = new ShadowAgreement(status.Tokens, status.GreedyAgreements, status.LogProbDivergenceSum, 0, status.RoutingPositions,
                [.. status.RoutingAgreements], status.PrimarySeconds, status.CandidateSeconds);
            IReadOnlyList<string> refusals = bounds.Refusals(agreement);
            foreach (string refusal in refusals) Console.Error.WriteLine($"refused: {refusal}");
            Console.WriteLine(refusals.Count == 0 ? "promote: the candidate is within the bounds" : $"not promoted: {refusals.Count} bound(s) broken");
            return refusals.Count == 0 ? 0 : PromotionRefused;
        });
        return command;
    }

    /// <summary>The <c>shadow</c> section of a cluster view's JSON; null when the view has none.</summary>
    internal static ShadowStatus? ShadowSection(byte[] viewJson)
    {
        using JsonDocument view = JsonDocument.Parse(viewJson);
        return view.RootElement.TryGetProperty("shadow", out JsonElement shadow) && shadow.ValueKind == JsonValueKind.Object
            ? shadow.Deserialize<ShadowStatus>(new JsonSerializerOptions(JsonSerializerDefaults.Web))
            : null;
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
