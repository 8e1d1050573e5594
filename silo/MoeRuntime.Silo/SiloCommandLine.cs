namespace MoeRuntime.Silo;

/// <summary>
/// Where the silo's configuration comes from, after appsettings.json: environment variables with the prefix
/// <see cref="EnvironmentPrefix"/> (<c>MOE_Moe__Rank=1</c> is <c>Moe:Rank</c>), then the command line, whose short
/// flags are <see cref="Switches"/>. Deployments (deploy/kubernetes, deploy/systemd) set options through these, and
/// their tests bind what a deployment sets with the same map.
/// </summary>
public static class SiloCommandLine
{
    /// <summary>The prefix of the environment variables the silo reads; <c>__</c> in the rest separates sections.</summary>
    public const string EnvironmentPrefix = "MOE_";

    /// <summary>Each command-line flag and the configuration key it sets.</summary>
    public static IReadOnlyDictionary<string, string> Switches { get; } = new Dictionary<string, string>
    {
        ["--rank"] = "Moe:Rank",
        ["--model"] = "Moe:ModelPath",
        ["--model-name"] = "Moe:ModelName",
        ["--device"] = "Moe:Device",
        ["--hot-budget"] = "Moe:HotBudgetBytes",
        ["--warm-budget"] = "Moe:WarmBudgetBytes",
        ["--default-tier"] = "Moe:DefaultTier",
        ["--routing-trace"] = "Moe:RoutingTracePath",
        ["--clustering"] = "Silo:Clustering",
        ["--redis"] = "Silo:Redis",
        ["--silo-port"] = "Silo:SiloPort",
        ["--gateway-port"] = "Silo:GatewayPort",
        ["--primary-port"] = "Silo:PrimarySiloPort",
        ["--http-port"] = "Silo:HttpPort",
        ["--http-bind"] = "Silo:HttpBind",
        ["--https-certificate"] = "Silo:HttpsCertificatePath",
        ["--insecure-http"] = "Silo:AllowInsecureHttp",
        ["--api-key"] = "Moe:FrontDoor:ApiKey",
        ["--tls"] = "Moe:Security:Tls",
        ["--cert"] = "Moe:Security:Certificate",
        ["--cert-password"] = "Moe:Security:CertificatePassword",
        ["--ca"] = "Moe:Security:CertificateAuthority",
        ["--internal-key"] = "Moe:Security:InternalKeyFile",
        ["--prompt"] = "Prompt",
        ["--max-tokens"] = "MaxTokens",
        ["--temperature"] = "Temperature",
        ["--seed"] = "Seed",
    };

    /// <summary>Adds the environment (<see cref="EnvironmentPrefix"/>) and then the command line (<see cref="Switches"/>).</summary>
    public static IConfigurationBuilder AddSiloSources(this IConfigurationBuilder configuration, string[] args) =>
        configuration.AddEnvironmentVariables(EnvironmentPrefix).AddCommandLine(args, new Dictionary<string, string>(Switches));
}
