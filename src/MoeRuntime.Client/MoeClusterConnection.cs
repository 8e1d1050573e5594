using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace MoeRuntime.Client;

/// <summary>An open connection to a MoeRuntime cluster; dispose to disconnect.</summary>
public sealed class MoeClusterConnection : IAsyncDisposable
{
    readonly IHost _host;

    MoeClusterConnection(IHost host) => _host = host;

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects, retrying for up to <paramref name="timeout"/> while no gateway answers.</summary>
    public static async Task<MoeClusterConnection> ConnectAsync(MoeClientOptions options, TimeSpan timeout, CancellationToken cancellationToken)
    {
        IHost host = Build(options, DateTimeOffset.UtcNow + timeout);
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new MoeClusterConnection(host);
    }

    /// <summary>The client's host, configured and not started.</summary>
    internal static IHost Build(MoeClientOptions options, DateTimeOffset giveUp)
    {
        if (options.MaxMessageBodyBytes < MoeClientOptions.MinMessageBodyBytes)
            throw new ArgumentException($"MaxMessageBodyBytes must be at least {MoeClientOptions.MinMessageBodyBytes}, was {options.MaxMessageBodyBytes}", nameof(options));
        if (options.OpenConnectionTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"OpenConnectionTimeout must be positive, was {options.OpenConnectionTimeout}", nameof(options));
        return Host.CreateDefaultBuilder()
            // Logs go to standard error: standard output is the caller's (generated text, moe-load's tables).
            .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning).AddFilter("Orleans", LogLevel.Error).AddFilter("Microsoft.Extensions.Hosting", LogLevel.None)
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                .AddSimpleConsole(o => (o.TimestampFormat, o.UseUtcTimestamp) = ("HH:mm:ss.fff ", true)))
            .UseOrleansClient(client =>
            {
                switch (options.Clustering.ToLowerInvariant())
                {
                    case "localhost":
                        client.UseLocalhostClustering(options.GatewayPorts, options.ClusterId, options.ClusterId);
                        break;
                    case "redis":
                        client.UseRedisClustering(options.Redis);
                        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ClusterId));
                        break;
                    default:
                        throw new ArgumentException($"clustering '{options.Clustering}' is not supported (localhost, redis)");
                }
                client.UseConfiguredTls(options);
                client.AddActivityPropagation();
                client.Configure<ClientMessagingOptions>(o =>
                {
                    o.ResponseTimeout = options.ResponseTimeout;
                    o.MaxMessageBodySize = options.MaxMessageBodyBytes;
                });
                client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = options.GatewayListRefreshPeriod);
                client.Configure<ConnectionOptions>(o => o.OpenConnectionTimeout = options.OpenConnectionTimeout);
                // Streams on a gateway whose connection closed are resumed after the lost-gateway grace, not the stall timeout.
                client.AddGatewayLossMonitor();
                client.UseConnectionRetryFilter(async (_, ct) =>
                {
                    if (DateTimeOffset.UtcNow >= giveUp) return false;
                    await Task.Delay(500, ct);
                    return true;
                });
            })
            .Build();
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
