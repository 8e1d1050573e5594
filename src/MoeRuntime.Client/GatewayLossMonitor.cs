using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MoeRuntime.Client;

/// <summary>
/// Hears from the Orleans client when one of its gateway connections closes (the rank behind it was killed, crashed or
/// stopped), so that <see cref="MoeGenerationClient.StreamWithResumeAsync(IClusterClient, string, GenerateRequest, ResumeOptions?, CancellationToken)"/>
/// can take the streams that went silent since then for lost after <see cref="ResumeOptions.LostGatewayGrace"/> instead
/// of the full <see cref="ResumeOptions.StallTimeout"/>. An Orleans client fails a call in flight on a lost gateway only
/// when its response timeout passes, and does not say which gateway it lost: the streams still served hear a heartbeat
/// within <see cref="ResumeOptions.HeartbeatInterval"/>, the ones on the lost gateway hear nothing.
/// Registered by <see cref="GatewayLossMonitorExtensions.AddGatewayLossMonitor"/> (<see cref="MoeClusterConnection"/> does).
/// </summary>
public sealed partial class GatewayLossMonitor : IClusterConnectionStatusObserver
{
    readonly ILogger _logger;
    readonly CancellationToken _stopping;
    readonly Lock _lock = new();
    TaskCompletionSource _next = NewSignal();
    long _lastLoss;
    long _losses;

    /// <param name="logger">Where a lost connection is logged (Warning).</param>
    /// <param name="lifetime">The client's host: connections that close while it stops are the client's own doing and are not logged.</param>
    public GatewayLossMonitor(ILogger<GatewayLossMonitor>? logger = null, IHostApplicationLifetime? lifetime = null)
    {
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _stopping = lifetime?.ApplicationStopping ?? CancellationToken.None;
    }

    /// <summary>How many gateway connections closed since the client started.</summary>
    public long Losses => Interlocked.Read(ref _losses);

    /// <summary>The <see cref="Stopwatch.GetTimestamp"/> of the latest lost gateway connection; 0 before the first.</summary>
    public long LastLossTimestamp => Interlocked.Read(ref _lastLoss);

    /// <summary>Completes at the next lost gateway connection (take it before reading <see cref="LastLossTimestamp"/>).</summary>
    public Task NextLoss
    {
        get
        {
            lock (_lock) return _next.Task;
        }
    }

    /// <summary>Records a lost gateway connection now and wakes every stream waiting on <see cref="NextLoss"/>.</summary>
    public void RecordLoss()
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            // The time first, then the signal: a reader that took the old signal before this sees the new time once woken.
            Interlocked.Exchange(ref _lastLoss, Stopwatch.GetTimestamp());
            Interlocked.Increment(ref _losses);
            signal = _next;
            _next = NewSignal();
        }
        signal.TrySetResult();
    }

    void IClusterConnectionStatusObserver.NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways >= previousNumberOfGateways) return;
        if (!_stopping.IsCancellationRequested) LogGatewayLost(_logger, currentNumberOfGateways, previousNumberOfGateways);
        RecordLoss();
    }

    // Orleans reports the last connection's loss as a gateway count going to 0 as well, which records it.
    void IClusterConnectionStatusObserver.NotifyClusterConnectionLost()
    {
        if (!_stopping.IsCancellationRequested) LogClusterLost(_logger);
    }

    static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A gateway connection closed ({Current} of {Previous} left): streams silent since are resumed on another rank after the lost-gateway grace")]
    static partial void LogGatewayLost(ILogger logger, int current, int previous);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The client has no gateway connection left; it reconnects to the gateways the cluster lists")]
    static partial void LogClusterLost(ILogger logger);
}

/// <summary>Registers the <see cref="GatewayLossMonitor"/> with an Orleans client.</summary>
public static class GatewayLossMonitorExtensions
{
    /// <summary>
    /// Adds one <see cref="GatewayLossMonitor"/> to the client as an <see cref="IClusterConnectionStatusObserver"/>;
    /// <see cref="MoeGenerationClient.StreamWithResumeAsync(IClusterClient, string, GenerateRequest, ResumeOptions?, CancellationToken)"/>
    /// finds it in the client's services. Calling it twice adds it once.
    /// </summary>
    public static IClientBuilder AddGatewayLossMonitor(this IClientBuilder client)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (client.Services.Any(s => s.ServiceType == typeof(GatewayLossMonitor))) return client;
        client.Services.TryAddSingleton<GatewayLossMonitor>();
        client.Services.AddSingleton<IClusterConnectionStatusObserver>(s => s.GetRequiredService<GatewayLossMonitor>());
        return client;
    }
}
