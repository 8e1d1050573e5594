using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Model;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Cli.Commands;

/// <summary><c>moe generate</c>: streams a completion from the single-process reference generator.</summary>
static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt") { Description = "Text to continue", DefaultValueFactory = _ => "The experts of the first layer" };
        var model = CommonOptions.Model();
        var device = CommonOptions.Device();
        var maxTokens = new Option<int>("--max-tokens") { DefaultValueFactory = _ => 64 };
        var temperature = new Option<double>("--temperature") { Description = "0 is greedy", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { DefaultValueFactory = _ => 0.95 };
        var topK = new Option<int>("--top-k") { Description = "0 keeps every token" };
        var seed = new Option<ulong?>("--seed") { Description = "Makes sampling reproducible" };
        var command = new Command("generate", "Generate text with the single-process reference generator")
        {
            prompt, model, device, maxTokens, temperature, topP, topK, seed,
        };
        command.SetAction((result, cancellationToken) =>
        {
            string directory = Path.GetFullPath(result.GetValue(model)!);
            if (directory == Path.GetFullPath(DefaultModelLocation.Directory) && !DefaultModelWriter.Exists(directory))
                ModelCommands.WriteDefaultModel(directory, new DefaultModelRecipe());
            var options = new SamplingOptions
            {
                Temperature = result.GetValue(temperature),
                TopP = result.GetValue(topP),
                TopK = result.GetValue(topK),
                Seed = result.GetValue(seed) ?? (ulong)Random.Shared.NextInt64(),
                MaxTokens = result.GetValue(maxTokens),
            };
            using ILoggerFactory logging = CommonOptions.Logging();
            return Task.FromResult(Run(directory, result.GetValue(device)!, result.GetValue(prompt)!, options, logging.CreateLogger("moe"), cancellationToken));
        });
        return command;
    }

    static int Run(string directory, string deviceOption, string prompt, SamplingOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var device = ComputeDevices.Resolve(deviceOption, logger);
        using MoeModel model = ModelLoader.Load(directory, device);
        ITextTokenizer tokenizer = TokenizerLoader.Load(directory);
        double loadSeconds = clock.Elapsed.TotalSeconds;

        var request = new GenerationRequest(tokenizer.Encode(prompt), options with { StopTokenIds = options.StopTokenIds ?? tokenizer.EndOfSequenceIds });
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
            $"load {loadSeconds:F2} s, device {device.type}, {request.PromptTokens.Count} prompt tokens, seed {options.Seed})");
        return 0;
    }
}
