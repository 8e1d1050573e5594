using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Client;
using MoeRuntime.Grains;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
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
        var command = new Command("generate", "Generate text through the cluster's router grain (or --local)")
        {
            prompt, local, modelName, model, device, maxTokens, temperature, topP, topK, seed, deadline,
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
            if (result.GetValue(local))
            {
                using ILoggerFactory logging = CommonOptions.Logging();
                return RunLocal(result.GetValue(model)!, result.GetValue(device)!, text, sampling, logging.CreateLogger("moe"), cancellationToken);
            }
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

    static int RunLocal(string directory, string deviceOption, string prompt, SamplingParameters sampling, ILogger logger, CancellationToken cancellationToken)
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
        foreach (int token in new ReferenceGenerator(model).Stream(request, cancellationToken))
        {
            firstToken ??= clock.Elapsed;
            count++;
            Console.Write(decoder.Append(token));
        }
        Console.WriteLine(decoder.Flush());
        double seconds = clock.Elapsed.TotalSeconds;
        Console.Error.WriteLine(
            $"{count} tokens in {seconds:F2} s ({count / Math.Max(seconds, 1e-9):F1} tokens/s, first token {firstToken?.TotalMilliseconds ?? 0:F0} ms, " +
            $"load {loadSeconds:F2} s, device {device.type}, {request.PromptTokens.Count} prompt tokens, seed {options.Seed}, local reference)");
        return 0;
    }
}
