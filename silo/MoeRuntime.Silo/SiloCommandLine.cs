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
        ["--silo-listening-port"] = "Silo:SiloListeningPort",
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

    /// <summary>The flag naming a JSON file read after appsettings.json and watched: its live settings reload without a restart.</summary>
    public const string ConfigSwitch = "--config";

    /// <summary>
    /// Adds the file of <see cref="ConfigSwitch"/> (watched: docs/configuration.md, "Live reload"), then the environment
    /// (<see cref="EnvironmentPrefix"/>), then the command line (<see cref="Switches"/>). A key set in the environment or
    /// on the command line wins over the file, so editing it there changes nothing.
    /// </summary>
    /// <exception cref="ArgumentException"><see cref="ConfigSwitch"/> has no value or names no file.</exception>
    public static IConfigurationBuilder AddSiloSources(this IConfigurationBuilder configuration, string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (ConfigFile(args) is { } file)
        {
            string path = Path.GetFullPath(file);
            if (!File.Exists(path)) throw new ArgumentException($"{ConfigSwitch}: no file {path}");
            configuration.AddJsonFile(path, optional: false, reloadOnChange: true);
        }
        return configuration.AddEnvironmentVariables(EnvironmentPrefix).AddCommandLine(args, new Dictionary<string, string>(Switches));
    }

    /// <summary>The value of <see cref="ConfigSwitch"/> (<c>--config FILE</c> or <c>--config=FILE</c>), or null.</summary>
    /// <exception cref="ArgumentException">The flag has no value.</exception>
    public static string? ConfigFile(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith(ConfigSwitch + "=", StringComparison.Ordinal)) return NonEmpty(args[i][(ConfigSwitch.Length + 1)..]);
            if (args[i] == ConfigSwitch) return i + 1 < args.Length ? NonEmpty(args[i + 1]) : NonEmpty("");
        }
        return null;
    }

    static string NonEmpty(string value) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException($"{ConfigSwitch} needs a file: {ConfigSwitch} /etc/moe/live.json") : value;
}
