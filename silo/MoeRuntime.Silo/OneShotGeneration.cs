using System.Diagnostics;
using MoeRuntime.Grains;

namespace MoeRuntime.Silo;

/// <summary>
/// <c>--prompt</c>: once the silo is up, sends one request through the router grain — the path every
/// client request takes — streams the answer to stdout, and stops the silo.
/// </summary>
sealed class OneShotGeneration(IGrainFactory grains, IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<OneShotGeneration> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ready = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(ready.SetResult)) await ready.Task.WaitAsync(stoppingToken);
        string prompt = configuration["Prompt"]!;
        var request = new GenerateRequest
        {
            Prompt = prompt,
            Sampling = new SamplingParameters
            {
                MaxTokens = configuration.GetValue("MaxTokens", 64),
                Temperature = configuration.GetValue("Temperature", 0.8),
                TopP = configuration.GetValue("TopP", 0.95),
                Seed = configuration.GetValue<ulong?>("Seed"),
            },
        };
        try
        {
            var clock = Stopwatch.StartNew();
            double? firstToken = null;
            int count = 0;
            Console.Write(prompt);
            await foreach (TokenChunk chunk in grains.GetGrain<IRouterGrain>(configuration["Moe:ModelName"] ?? "default").StreamAsync(request, stoppingToken))
            {
                firstToken ??= clock.Elapsed.TotalMilliseconds;
                count++;
                Console.Write(chunk.Text);
            }
            Console.WriteLine();
            RouterStatus status = await grains.GetGrain<IRouterGrain>(configuration["Moe:ModelName"] ?? "default").GetStatusAsync();
            Console.Error.WriteLine($"{count} tokens in {clock.Elapsed.TotalSeconds:F2} s through the router grain " +
                $"(first token {firstToken:F0} ms, {status.ExpertCalls} expert calls, {status.BytesSent / 1e6:F1} MB sent to experts)");
        }
        catch (MoeRequestException e)
        {
            logger.LogError("Request failed: {Error}", e.Message);
            Environment.ExitCode = 2;
        }
        lifetime.StopApplication();
    }
}
