using System.Diagnostics;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Silo;

/// <summary>
/// <c>--prompt</c>: once the silo is up, sends one request through the router grain — the path every
/// client request takes — streams the answer to stdout, and stops the silo.
/// </summary>
sealed class OneShotGeneration(IGrainFactory grains, IOptions<OneShotOptions> oneShot, IOptions<MoeSiloOptions> moe, IHostApplicationLifetime lifetime, ILogger<OneShotGeneration> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var ready = new TaskCompletionSource();
        using (lifetime.ApplicationStarted.Register(ready.SetResult)) await ready.Task.WaitAsync(stoppingToken);
        OneShotOptions o = oneShot.Value;
        string prompt = o.Prompt;
        IRouterGrain router = grains.GetGrain<IRouterGrain>(moe.Value.ModelName);
        var request = new GenerateRequest
        {
            Prompt = prompt,
            Sampling = new SamplingParameters { MaxTokens = o.MaxTokens, Temperature = o.Temperature, TopP = o.TopP, Seed = o.Seed },
        };
        try
        {
            var clock = Stopwatch.StartNew();
            double? firstToken = null;
            int count = 0;
            Console.Write(prompt);
            await foreach (TokenChunk chunk in router.StreamAsync(request, stoppingToken))
            {
                firstToken ??= clock.Elapsed.TotalMilliseconds;
                count++;
                Console.Write(chunk.Text);
            }
            Console.WriteLine();
            RouterStatus status = await router.GetStatusAsync();
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
