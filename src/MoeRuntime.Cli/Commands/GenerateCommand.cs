using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Client;
using MoeRuntime.Traces;
using MoeRuntime.Grains;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;

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
        var command = new Command("generate", "Generate text through the cluster's router grain (or --local)")
        {
            prompt, local, modelName, model, device, maxTokens, temperature, topP, topK, seed, deadline, routingTrace,
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
            if (result.GetValue(local))
            {
                using ILoggerFactory logging = CommonOptions.Logging();
                return await RunLocal(result.GetValue(model)!, result.GetValue(device)!, text, sampling, tracePath, logging.CreateLogger("moe"), cancellationToken);
            }
            if (tracePath is not null)
                throw new ArgumentException("--routing-trace records in process (--local); a cluster records on the silo (--routing-trace / Moe:RoutingTracePath)");
            await using MoeClusterConnection connection = await endpoint.ConnectAsync(result, cancellationToken);
            var request = new GenerateRequest
            {
                Prompt = text,
                Sampling = sampling,
                Deadline = result.GetValue(deadline) is { } seconds ? DateTimeOffset.UtcNow.AddSeconds(seconds) : null,
            };
            return await RunOnCluster(connection.Client.GetGrain<IRouterGrain>(result.GetValue(modelName)!), request, cancellationToken);
        });
        return command;
    }

    static async Task<int> RunOnCluster(IRouterGrain router, GenerateRequest request, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        double? firstToken = null;
        int count = 0;
        Console.Write(request.Prompt);
        await foreach (TokenChunk chunk in router.StreamAsync(request, cancellationToken))
        {
            firstToken ??= clock.Elapsed.TotalMilliseconds;
            count++;
            Console.Write(chunk.Text);
        }
        Console.WriteLine();
        double seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine($"{count} tokens in {seconds:F2} s ({count / Math.Max(seconds, 1e-9):F1} tokens/s, first token {firstToken ?? 0:F0} ms, seed {request.Sampling.Seed}, cluster)");
        return 0;
    }

    static async Task<int> RunLocal(string directory, string deviceOption, string prompt, SamplingParameters sampling, string? tracePath, ILogger logger,
        CancellationToken cancellationToken)
    {
        directory = Path.GetFullPath(directory);
        if (directory == Path.GetFullPath(DefaultModelLocation.Directory) && !DefaultModelWriter.Exists(directory))
            ModelCommands.WriteDefaultModel(directory, new DefaultModelRecipe());
        var clock = Stopwatch.StartNew();
        var device = ComputeDevices.Resolve(deviceOption, logger);
        using MoeModel model = ModelLoader.Load(directory, device);
        ITextTokenizer tokenizer = TokenizerLoader.Load(directory);
        double loadSeconds = clock.Elapsed.TotalSeconds;

        var options = new SamplingOptions
        {
            Temperature = sampling.Temperature, TopP = sampling.TopP, TopK = sampling.TopK, Seed = sampling.Seed,
            MaxTokens = sampling.MaxTokens, StopTokenIds = tokenizer.EndOfSequenceIds,
        };
        var request = new GenerationRequest(tokenizer.Encode(prompt), options);
        IStreamingDecoder decoder = tokenizer.CreateStreamingDecoder();
        Console.Write(prompt);
        clock.Restart();
        TimeSpan? firstToken = null;
        int count = 0;
        RoutingTraceRecorder? recorder = null;
        try
        {
            IEnumerable<int> tokens;
            if (tracePath is null) tokens = new ReferenceGenerator(model).Stream(request, cancellationToken);
            else
            {
                // The same forward pass through a dispatcher, so the recording decorator sees every layer's plan.
                recorder = new RoutingTraceRecorder(RoutingTraceWriter.Create(tracePath, RecordingExpertDispatcher.HeaderFor(model.Config, Path.GetFileName(directory))));
                request = request with { RequestKey = (ulong)Random.Shared.NextInt64() };
                tokens = await Recorded(model, request, new RecordingExpertDispatcher(new LocalExpertDispatcher(model), recorder), cancellationToken);
            }
            foreach (int token in tokens)
            {
                firstToken ??= clock.Elapsed;
                count++;
                Console.Write(decoder.Append(token));
            }
            Console.WriteLine(decoder.Flush());
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
    static async Task<IReadOnlyList<int>> Recorded(MoeModel model, GenerationRequest request, IExpertDispatcher dispatcher, CancellationToken cancellationToken)
    {
        var generated = new List<int>();
        using var sequence = new SequenceState(model, request);
        while (sequence.Finished is null)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using TorchSharp.torch.Tensor logits = await model.ForwardAsync([sequence.NextStep()], dispatcher, cancellationToken);
            if (sequence.Accept(TensorSpans.Floats(logits)) is { } token) generated.Add(token);
        }
        return generated;
    }
}
