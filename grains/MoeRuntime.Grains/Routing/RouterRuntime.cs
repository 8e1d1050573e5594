using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Generation;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// The rank's batching engine behind its router grain: one continuous batcher over the dense model,
/// with experts reached through their grains. It outlives router activations and drains when the
/// silo stops, before the silo stops taking messages.
/// </summary>
public sealed class RouterRuntime : ILifecycleParticipant<ISiloLifecycle>, IAsyncDisposable
{
    readonly ILogger<RouterRuntime> _logger;

    public RouterRuntime(ModelHost host, IGrainFactory grains, RankTelemetry telemetry, PlacementMapCache placement, IOptions<MoeSiloOptions> options, ILoggerFactory loggers)
    {
        MoeSiloOptions o = options.Value;
        _logger = loggers.CreateLogger<RouterRuntime>();
        Host = host;
        Dispatcher = new GrainExpertDispatcher(grains, host, o, telemetry, placement, loggers.CreateLogger<GrainExpertDispatcher>());
        Batcher = new ContinuousBatcher(host.DenseModel, Dispatcher,
            new BatcherOptions { MaxQueuedRequests = o.MaxQueuedRequests, MaxBatchSequences = o.MaxBatchSequences, MaxBatchTokens = o.MaxBatchTokens },
            loggers.CreateLogger<ContinuousBatcher>(), observer: telemetry);
    }

    public ModelHost Host { get; }
    public GrainExpertDispatcher Dispatcher { get; }
    public ContinuousBatcher Batcher { get; }

    public RouterStatus Status() => new()
    {
        Rank = Host.Rank,
        QueueDepth = Batcher.QueueDepth,
        ActiveSequences = Batcher.ActiveSequences,
        ExpertCalls = Dispatcher.Calls,
        BytesSent = Dispatcher.BytesSent,
        BytesReceived = Dispatcher.BytesReceived,
        ExpertCallSeconds = Dispatcher.CallTime.TotalSeconds,
        PrefetchHints = Dispatcher.PrefetchHints,
    };

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(RouterRuntime), ServiceLifecycleStage.Active, _ => Task.CompletedTask, DrainAsync);

    async Task DrainAsync(CancellationToken cancellationToken)
    {
        _logger.LogInformation("Draining the router: {Queued} queued, {Active} running", Batcher.QueueDepth, Batcher.ActiveSequences);
        try
        {
            await Batcher.DrainAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            _logger.LogWarning("Shutdown deadline reached with {Active} requests still running; they are failed", Batcher.ActiveSequences);
        }
    }

    public ValueTask DisposeAsync() => Batcher.DisposeAsync();
}
