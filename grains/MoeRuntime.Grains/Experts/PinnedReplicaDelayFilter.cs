using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Experts;

/// <summary>
/// <see cref="FaultInjectionOptions.PinnedReplicaDelay"/>: delays every <see cref="IExpertGrain.ComputeAsync"/> call to one of
/// this rank's pinned replicas; with the delay at zero (the default) a call passes straight through.
/// </summary>
public sealed partial class PinnedReplicaDelayFilter : IIncomingGrainCallFilter
{
    readonly TimeSpan _delay;

    public PinnedReplicaDelayFilter(IOptions<MoeSiloOptions> options, ILogger<PinnedReplicaDelayFilter> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _delay = options.Value.FaultInjection.PinnedReplicaDelay;
        if (_delay > TimeSpan.Zero) LogOn(logger, options.Value.Rank, _delay.TotalMilliseconds);
    }

    public Task Invoke(IIncomingGrainCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return _delay > TimeSpan.Zero && context.Grain is ExpertGrain && context.InterfaceMethod.Name == nameof(IExpertGrain.ComputeAsync)
            && GrainKeys.ParseExpert(context.TargetId.Key.ToString()!).Rank is not null
            ? DelayedAsync(context)
            : context.Invoke();
    }

    async Task DelayedAsync(IIncomingGrainCallContext context)
    {
        await Task.Delay(_delay);
        await context.Invoke();
    }

    [LoggerMessage(1960, LogLevel.Warning, "Fault injection on rank {Rank}: every call to one of its pinned replicas waits {DelayMs} ms first (Moe:FaultInjection:PinnedReplicaDelay; load tests only)")]
    static partial void LogOn(ILogger logger, int rank, double delayMs);
}
