using System.Net;
using MoeRuntime.Grains.Hosting;
using Orleans.Configuration;
using StackExchange.Redis;

namespace MoeRuntime.Silo;

/// <summary>
/// Applies <see cref="SiloHostOptions"/> to the Orleans silo: clustering, endpoints, identity, and where the controllers
/// keep what operators set (<see cref="ControlStorage"/>: in memory on localhost, in the cluster's Redis otherwise).
/// </summary>
static class SiloClustering
{
    public static ISiloBuilder UseConfiguredClustering(this ISiloBuilder silo, SiloHostOptions options)
    {
        switch (options.Clustering.ToLowerInvariant())
        {
            case "localhost":
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort,
                    new IPEndPoint(IPAddress.Loopback, options.PrimarySiloPort), options.ClusterId, options.ClusterId);
                silo.AddMemoryGrainStorage(ControlStorage.Name);
                break;
            case "redis":
                silo.UseRedisClustering(options.Redis);
                silo.Services.AddRedisGrainStorage(ControlStorage.Name, o => o.ConfigurationOptions = ConfigurationOptions.Parse(options.Redis));
                silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ClusterId));
                silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
                break;
            default:
                throw new InvalidOperationException($"Silo:Clustering '{options.Clustering}' is not supported (localhost, redis)");
        }
        // Advertise SiloPort, listen on another port: a forwarder carries the other silos' connections across.
        if (options.SiloListeningPort != 0)
            silo.Configure<EndpointOptions>(o => o.SiloListeningEndpoint = new IPEndPoint(o.AdvertisedIPAddress, options.SiloListeningPort));
        return silo;
    }
}
