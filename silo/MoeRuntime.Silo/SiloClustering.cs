using System.Net;
using Orleans.Configuration;

namespace MoeRuntime.Silo;

/// <summary>Applies <see cref="SiloHostOptions"/> to the Orleans silo: clustering, endpoints and identity.</summary>
static class SiloClustering
{
    public static ISiloBuilder UseConfiguredClustering(this ISiloBuilder silo, SiloHostOptions options)
    {
        switch (options.Clustering.ToLowerInvariant())
        {
            case "localhost":
                silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort,
                    new IPEndPoint(IPAddress.Loopback, options.PrimarySiloPort), options.ClusterId, options.ClusterId);
                break;
            case "redis":
                silo.UseRedisClustering(options.Redis);
                silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (options.ClusterId, options.ClusterId));
                silo.ConfigureEndpoints(IPAddress.Parse(options.AdvertisedAddress), options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
                break;
            default:
                throw new InvalidOperationException($"Silo:Clustering '{options.Clustering}' is not supported (localhost, redis)");
        }
        return silo;
    }
}
