using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Control;

/// <summary>
/// Keeps the model's tier controllers running: once the silo is active, and then every <see cref="Recheck"/>, it calls
/// the controller grain's idempotent <see cref="ITierControllerGrain.StartAsync"/>. Every silo does so, so the loop
/// comes back (on a surviving silo) when the silo that held the controller grain goes away.
/// </summary>
public sealed class ControllerStarter(ModelHost host, IGrainFactory grains, IOptions<MoeSiloOptions> options, ILogger<ControllerStarter> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    static readonly TimeSpan Recheck = TimeSpan.FromSeconds(30);
    readonly CancellationTokenSource _stopping = new();
    Task? _loop;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ControllerStarter), ServiceLifecycleStage.Active, Start, Stop);

    Task Start(CancellationToken cancellationToken)
    {
        if (options.Value.Control.Enabled) _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    async Task Stop(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        if (_loop is not null) await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    async Task RunAsync()
    {
        int failures = 0;
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                try
                {
                    await grains.GetGrain<ITierControllerGrain>(host.ModelName).StartAsync().WaitAsync(_stopping.Token).ConfigureAwait(false);
                    failures = 0;
                }
                catch (Exception e) when (e is OrleansException or TimeoutException)
                {
                    if (failures++ == 0) logger.LogWarning(e, "Starting the tier controllers of {Model} failed; retrying", host.ModelName);
                }
                await Task.Delay(failures > 0 ? TimeSpan.FromSeconds(1) : Recheck, _stopping.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }
}
