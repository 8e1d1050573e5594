using Microsoft.Extensions.Options;
using MoeRuntime.FrontDoor;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Silo;
using Orleans.Runtime;

// One rank per process. Configuration: appsettings.json, MOE_ environment variables
// (MOE_Moe__Rank=1, MOE_Silo__Clustering=redis), then the flags below.
WebApplication app;
try
{
    app = Build(args);
}
catch (Exception e) when (e is OptionsValidationException or InvalidOperationException or FormatException or ArgumentException)
{
    // A configuration mistake gets one clear line and exit code 2, not a stack trace.
    Console.Error.WriteLine($"moe-silo: {(e is OptionsValidationException invalid ? string.Join("; ", invalid.Failures) : e.Message)}");
    return 2;
}
await using (app)
{
    try
    {
        await app.StartAsync();
    }
    catch (Exception e)
    {
        // Start-up failures (an unreachable Redis, a missing model) are logged in full; the terminal gets the cause.
        Console.Error.WriteLine($"moe-silo: could not start: {e.GetBaseException().Message}");
        return 1;
    }
    // Until SIGTERM or Ctrl+C, then stops the host: the router drains first.
    await app.WaitForShutdownAsync();
}
return 0;

static WebApplication Build(string[] args)
{
    var switches = new Dictionary<string, string>
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
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
    builder.Configuration.AddEnvironmentVariables("MOE_").AddCommandLine(args, switches);
    SiloSettings settings = builder.AddSiloOptions();
    var (host, telemetry) = (settings.Host, settings.Telemetry);
    builder.AddSiloTelemetry(telemetry, settings.Moe.Rank);
    builder.WebHost.UseUrls($"http://127.0.0.1:{host.HttpPort}");
    builder.UseOrleans(silo => silo.UseConfiguredClustering(host).UseConfiguredTls(settings.Security).AddMoeRuntime());
    // The OpenAI-compatible front door on the HTTP port, over this rank's router grain.
    builder.Services.AddFrontDoor(builder.Configuration.GetSection(FrontDoorOptions.Section));
    builder.Services.AddSingleton<IInferenceBackend, SiloInferenceBackend>();
    if (settings.OneShot.Requested) builder.Services.AddHostedService<OneShotGeneration>();

    var app = builder.Build();
    // Resolving the front door's options validates them now, so a mistake is one line and exit code 2 like the others.
    _ = app.Services.GetRequiredService<IOptions<FrontDoorOptions>>().Value;
    var access = new TelemetryAccess(telemetry, app.Services.GetRequiredService<ILogger<TelemetryAccess>>(), host.HttpPort);
    app.MapTelemetry(access);
    app.MapControl(access);
    app.MapGet("/healthz", (IClusterMembershipService membership) =>
        Results.Ok(new { status = "serving", members = membership.CurrentSnapshot.Members.Count }));
    app.MapOpenAiEndpoints();
    app.MapGet("/v1/router", async (IGrainFactory grains, IOptions<MoeSiloOptions> moe) =>
        Results.Ok(await grains.GetGrain<IRouterGrain>(moe.Value.ModelName).GetStatusAsync()));
    return app;
}
