using System.CommandLine;
using Microsoft.Extensions.Logging;
using MoeRuntime.Client;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.Cli.Commands;

/// <summary>Options several commands share, with one meaning everywhere.</summary>
static class CommonOptions
{
    public static Option<string> Model() => new("--model")
    {
        Description = $"Checkpoint directory (Hugging Face layout). Default: ${DefaultModelLocation.EnvironmentVariable} or the built-in model's directory, created on first use",
        DefaultValueFactory = _ => DefaultModelLocation.Directory,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "Compute device: cpu, cuda or cuda:N (falls back to cpu with a warning)",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<string> Clustering() => new("--clustering")
    {
        Description = "How to find the cluster: localhost or redis",
        DefaultValueFactory = _ => "localhost",
    };

    public static Option<string> Redis() => new("--redis") { Description = "Redis connection string (redis clustering)", DefaultValueFactory = _ => "localhost:6379" };

    public static Option<int[]> Gateways() => new("--gateway")
    {
        Description = "Gateway port(s) (localhost clustering)",
        DefaultValueFactory = _ => [30000],
        AllowMultipleArgumentsPerToken = true,
    };

    /// <summary>The cluster options, added to <paramref name="command"/>; read them back with <see cref="ClusterEndpoint.Read"/>.</summary>
    public static ClusterEndpoint AddClusterOptions(this Command command)
    {
        var endpoint = new ClusterEndpoint(Clustering(), Redis(), Gateways())
        {
            Certificate = new Option<string>("--cert") { Description = "Mutual TLS: this client's certificate with its key (.pfx, e.g. from moe cert)", DefaultValueFactory = _ => "" },
            CertificatePassword = new Option<string>("--cert-password") { Description = "Password of --cert (default: $MOE_CERT_PASSWORD)", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("MOE_CERT_PASSWORD") ?? "" },
            CertificateAuthority = new Option<string>("--ca") { Description = "The cluster CA's certificate (ca.crt), which the gateways' certificates must chain to", DefaultValueFactory = _ => "" },
        };
        command.Options.Add(endpoint.Clustering);
        command.Options.Add(endpoint.Redis);
        command.Options.Add(endpoint.Gateways);
        command.Options.Add(endpoint.Certificate);
        command.Options.Add(endpoint.CertificatePassword);
        command.Options.Add(endpoint.CertificateAuthority);
        return endpoint;
    }

    public static ILoggerFactory Logging() =>
        LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
}

/// <summary>The options that locate a cluster, and the connection they describe.</summary>
sealed record ClusterEndpoint(Option<string> Clustering, Option<string> Redis, Option<int[]> Gateways)
{
    public required Option<string> Certificate { get; init; }
    public required Option<string> CertificatePassword { get; init; }
    public required Option<string> CertificateAuthority { get; init; }

    public MoeClientOptions Read(ParseResult result) => new()
    {
        Clustering = result.GetValue(Clustering)!,
        Redis = result.GetValue(Redis)!,
        GatewayPorts = result.GetValue(Gateways)!,
        Certificate = result.GetValue(Certificate)!,
        CertificatePassword = result.GetValue(CertificatePassword)!,
        CertificateAuthority = result.GetValue(CertificateAuthority)!,
    };

    public Task<MoeClusterConnection> ConnectAsync(ParseResult result, CancellationToken cancellationToken) =>
        MoeClusterConnection.ConnectAsync(Read(result), TimeSpan.FromSeconds(15), cancellationToken);
}
