using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Client;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Traces;
using MoeRuntime.Grains;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Cli.Commands;

/// <summary>
/// <c>moe generate</c>: streams a completion from a cluster's router grain, or with <c>--local</c>
/// from the single-process reference generator (the ground truth the cluster must reproduce).
/// </summary>
static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt") { Description = "Text to continue", DefaultValueFactory = _ => "The experts of the first layer" };
        var local = new Option<bool>("--local") { Description = "Run the single-process reference generator instead of asking the cluster" };
        var modelName = new Option<string>("--model-name") { Description = "Model the cluster serves", DefaultValueFactory = _ => "default" };
        var model = CommonOptions.Model();
        var device = CommonOptions.Device();
        var maxTokens = new Option<int>("--max-tokens") { DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0 is greedy", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 0.95 };
        var topK = new Option<int>("--top-k") { Description = "0 keeps every token" };
        var seed = new Option<ulong?>("--seed") { Description = "Makes sampling reproducible" };
        var deadline = new Option<double?>("--deadline-seconds") { Description = "Fail the request if it has not finished by then" };
        var routingTrace = new Option<string?>("--routing-trace")
        {
            Description = "With --local: record the routing (experts and weights per token and layer, no text) to this JSON-lines file",
        };
        var pregating = new Option<string?>("--pregating-accuracy")
        {
            Description = "With --local: pre-gate as a router does and write each layer's measured precision and recall to this file (for moe replay --prefetch-accuracy-file)",
        };
        var pregatingAhead = new Option<int>("--pregating-lookahead")
        {
            Description = "With --pregating-accuracy: layers ahead to predict (the runtime's Moe:PrefetchLookahead)", DefaultValueFactory = _ => 1,
        };
        var showTokenIds = new Option<bool>("--show-token-ids") { Description = "Also print the prompt's and the generated token ids" };
        var logprobs = new Option<int?>("--logprobs")
        {
            Description = "Print each token's log-probability (log-softmax of the raw logits) and its N most likely alternatives (0: none)",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (prompt and generated ids, per-token text and log-probabilities) instead of text" };
        var stallTimeout = new Option<double>("--stall-timeout")
        {
            Description = "Seconds without a token or a heartbeat after which the rank serving the stream is taken for lost and the stream resumed on another",
            DefaultValueFactory = _ => ResumeOptions.Default.StallTimeout.TotalSeconds,
        };
        var stop = new Option<string[]>("--stop")
        {
            Description = "End generation where the text reaches this string (repeatable; matched across tokens by the router, never printed)",
        };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not add the beginning-of-sequence token the checkpoint's tokenizer settings would add" };
        var command = new Command("generate", "Generate text through the cluster's router grain (or --local)")
        {
            prompt, local, modelName, model, device, maxTokens, temperature, topP, topK, seed, deadline, routingTrace, pregating, pregatingAhead,
            showTokenIds, logprobs, json, noBos, stallTimeout, stop,
        };
        ClusterEndpoint endpoint = command.AddClusterOptions();
        command.SetAction(async (result, cancellationToken) =>
        {
            var sampling = new SamplingParameters
            {
                Temperature = result.GetValue(temperature),
                TopP = result.GetValue(topP),
                TopK = result.GetValue(topK),
                Seed = result.GetValue(seed) ?? (ulong)Random.Shared.NextInt64(),
                MaxTokens = result.GetValue(maxTokens),
            };
            string text = result.GetValue(prompt)!;
            string? tracePath = result.GetValue(routingTrace);
            var output = new GenerationOutputOptions(result.GetValue(showTokenIds), result.GetValue(logprobs), result.GetValue(json), result.GetValue(noBos));
            if (output.TopLogprobs is < 0 or > 100) throw new ArgumentException($"--logprobs must be between 0 and 100 (is {output.TopLogprobs})");
            string[] stops = result.GetValue(stop) ?? [];
            if (result.GetValue(local))
            {
                if (stops.Length > 0) throw new ArgumentException("--stop is matched by the cluster's router; --local does not take it");
                using ILoggerFactory logging = CommonOptions.Logging();
                int ahead = result.GetValue(pregatingAhead);
                if (ahead < 1) throw new ArgumentException($"--pregating-lookahead must be at least 1 (is {ahead})");
                return await RunLocal(result.GetValue(model)!, result.GetValue(device)!, text, sampling, tracePath, (result.GetValue(pregating), ahead), output,
                    logging.CreateLogger("moe"), cancellationToken);
            }
            if (tracePath is not null)
                throw new ArgumentException("--routing-trace records in process (--local); a cluster records on the silo (--routing-trace / Moe:RoutingTracePath)");
            if (result.GetValue(pregating) is not null)
                throw new ArgumentException("--pregating-accuracy measures in process (--local); a cluster's measured accuracy is shown by moe prefetch (--write-accuracy)");
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, cancellationToken);
            var request = new GenerateRequest
            {
                Prompt = text,
                Sampling = sampling,
                Deadline = result.GetValue(deadline) is { } seconds ? DateTimeOffset.UtcNow.AddSeconds(seconds) : null,
                SkipBeginOfSequence = output.SkipBeginOfSequence,
                TopLogprobs = output.TopLogprobs,
                IncludePromptTokenIds = output.WantsPromptIds,
                StopStrings = stops.Length > 0 ? stops : null,
            };
            var resume = ResumeOptions.Default with { StallTimeout = TimeSpan.FromSeconds(result.GetValue(stallTimeout)) };
            resume.Validate();
            return await RunOnCluster(connection.Client, result.GetValue(modelName)!, request, resume, output, cancellationToken);
        });
        return command;
    }

    static async Task<int> RunOnCluster(IClusterClient cluster, string model, GenerateRequest request, ResumeOptions resumeOptions, GenerationOutputOptions options,
        CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        double? firstToken = null;
        int count = 0;
        var output = new GenerationOutput(options, request.Prompt, Console.Out);
        bool prompted = false;
        string tail = "";
        // A stream whose rank is lost or stopping continues on another rank where it stopped (said on stderr, once per resume).
        var resume = resumeOptions with
        {
            OnResume = r => Console.Error.WriteLine($"moe: the rank serving the stream was lost ({r.Reason}) after {r.DeliveredTokens} tokens; resuming (attempt {r.Attempt})"),
        };
        await foreach (TokenChunk chunk in cluster.StreamWithResumeAsync(model, request, resume, cancellationToken))
        {
            if (chunk.IsTrailer)
            {
                // The text a stop-string request held back before it ended on an end-of-sequence token.
                tail = chunk.Text;
                continue;
            }
            firstToken ??= clock.Elapsed.TotalMilliseconds;
            count++;
            if (!prompted)
            {
                output.Prompt(chunk.PromptTokenIds);
                prompted = true;
            }
            output.Token(new PrintedToken(chunk.Index, chunk.TokenId, chunk.Text, chunk.Logprob,
                chunk.TopLogprobs?.Select(t => (t.TokenId, t.Logprob)).ToArray()));
        }
        if (!prompted) output.Prompt(null);
        output.End(tail, request.Sampling.Seed, "cluster");
        double seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"{count} tokens in {seconds:F2} s ({count / Math.Max(seconds, 1e-9):F1} tokens/s, first token {firstToken ?? 0:F0} ms, seed {request.Sampling.Seed}, cluster)");
        return 0;
    }

    static async Task<int> RunLocal(string directory, string deviceOption, string prompt, SamplingParameters sampling, string? tracePath,
        (string? Path, int Ahead) pregating, GenerationOutputOptions outputOptions, ILogger logger, CancellationToken cancellationToken)
    {
        directory = Path.GetFullPath(directory);
        if (directory == Path.GetFullPath(DefaultModelLocation.Directory) && !DefaultModelWriter.Exists(directory))
            ModelCommands.WriteDefaultModel(directory, new DefaultModelRecipe());
        var clock = Stopwatch.StartNew();
        var device = ComputeDevices.Resolve(deviceOption, logger);
        using MoeModel model = ModelLoader.Load(directory, device);
        ITextTokenizer tokenizer = TokenizerLoader.Load(directory, model.Config);
        double loadSeconds = clock.Elapsed.TotalSeconds;

        var options = new SamplingOptions
        {
            Temperature = sampling.Temperature, TopP = sampling.TopP, TopK = sampling.TopK, Seed = sampling.Seed,
            MaxTokens = sampling.MaxTokens, StopTokenIds = tokenizer.EndOfSequenceIds,
        };
        var request = new GenerationRequest(tokenizer.Encode(prompt, addBeginOfSequence: !outputOptions.SkipBeginOfSequence), options)
        {
            TopLogprobs = outputOptions.TopLogprobs,
        };
        IStreamingDecoder decoder = tokenizer.CreateStreamingDecoder();
        var output = new GenerationOutput(outputOptions, prompt, Console.Out);
        output.Prompt(request.PromptTokens);
        clock.Restart();
        TimeSpan? firstToken = null;
        int count = 0;
        RoutingTraceRecorder? recorder = null;
        PregatingTally? tally = pregating.Path is null ? null
            : new PregatingTally(model.Config.LayerCount, model.Config.ExpertCount, pregating.Ahead);
        try
        {
            IEnumerable<StreamedToken> tokens;
            if (tracePath is null && tally is null) tokens = new ReferenceGenerator(model).StreamTokens(request, cancellationToken);
            else
            {
                // The same forward pass through a dispatcher, so the recording decorator sees every layer's plan and the
                // lookahead every layer's prediction and choice.
                IExpertDispatcher dispatcher = new LocalExpertDispatcher(model);
                if (tracePath is not null)
                {
                    recorder = new RoutingTraceRecorder(RoutingTraceWriter.Create(tracePath, RecordingExpertDispatcher.HeaderFor(model.Config, Path.GetFileName(directory))));
                    request = request with { RequestKey = (ulong)Random.Shared.NextInt64() };
                    dispatcher = new RecordingExpertDispatcher(dispatcher, recorder);
                }
                tokens = await Recorded(model, request, dispatcher, tally is null ? null : new MeasuringLookahead(tally, pregating.Ahead), cancellationToken);
            }
            foreach (StreamedToken token in tokens)
            {
                firstToken ??= clock.Elapsed;
                count++;
                output.Token(new PrintedToken(token.Index, token.Id, decoder.Append(token.Id), token.Logprobs?.Chosen,
                    token.Logprobs?.Top.Select(t => (t.Id, t.Logprob)).ToArray()));
            }
            output.End(decoder.Flush(), options.Seed, "local");
            if (tally is not null)
            {
                IReadOnlyList<PregatingAccuracy> totals = tally.Totals();
                PregatingAccuracyFile.Write(pregating.Path!, totals,
                    $"moe generate --local, model {Path.GetFileName(directory)}, {count} tokens, seed {options.Seed}, lookahead {pregating.Ahead}, threshold 0");
                Console.Error.WriteLine($"pre-gating accuracy in {pregating.Path}: " + string.Join("  ", totals.Select(t =>
                    string.Create(System.Globalization.CultureInfo.InvariantCulture, $"L{t.Layer}+{t.Lookahead} precision {t.Precision:P1} recall {t.Recall:P1}"))));
            }
        }
        finally
        {
            if (recorder is not null)
            {
                await recorder.DisposeAsync();
                Console.Error.WriteLine($"routing trace: {recorder.Writer.Written} records over {recorder.Steps} steps in {tracePath}" +
                    (recorder.Writer.Dropped > 0 ? $" ({recorder.Writer.Dropped} dropped)" : ""));
            }
        }
        double seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine(
            $"{count} tokens in {seconds:F2} s ({count / Math.Max(seconds, 1e-9):F1} tokens/s, first token {firstToken?.TotalMilliseconds ?? 0:F0} ms, " +
            $"load {loadSeconds:F2} s, device {device.type}, {request.PromptTokens.Count} prompt tokens, seed {options.Seed}, local reference)");
        return 0;
    }

    /// <summary>Generates one request step by step through <paramref name="dispatcher"/> (tokens as a list: nothing streams while recording).</summary>
    static async Task<IReadOnlyList<StreamedToken>> Recorded(MoeModel model, GenerationRequest request, IExpertDispatcher dispatcher, IExpertLookahead? lookahead,
        CancellationToken cancellationToken)
    {
        var generated = new List<StreamedToken>();
        using var sequence = new SequenceState(model, request);
        while (sequence.Finished is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using TorchSharp.torch.Tensor logits = await model.ForwardAsync([sequence.NextStep()], dispatcher, cancellationToken, lookahead: lookahead);
            if (sequence.Accept(TensorSpans.Floats(logits)) is { } token)
                generated.Add(new StreamedToken(token, sequence.Generated.Count - 1, null, sequence.LastLogprobs));
        }
        return generated;
    }
}
