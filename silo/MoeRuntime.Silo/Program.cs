using Microsoft.Extensions.Options;
using MoeRuntime.FrontDoor;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Silo;
using Orleans.Runtime;

// One rank per process. Configuration: appsettings.json, MOE_ environment variables
// (MOE_Moe__Rank=1, MOE_Silo__Clustering=redis), then the flags in SiloCommandLine.
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
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
    builder.Configuration.AddSiloSources(args);
    SiloSettings settings = builder.AddSiloOptions();
    var (host, telemetry) = (settings.Host, settings.Telemetry);
    builder.AddSiloTelemetry(telemetry, settings.Moe.Rank);
    // One keyed pseudonym per tenant for the router's spans and logs and the front door's logs (Moe:Telemetry:PseudonymKey).
    builder.Services.AddSingleton(TenantPrivacy.Pseudonyms);
    builder.WebHost.UseHttpListener(host);
    builder.UseOrleans(silo => silo.UseConfiguredClustering(host).UseConfiguredTls(settings.Security).AddMoeRuntime());
    // The OpenAI-compatible front door on the HTTP port, over this rank's router grain.
    builder.Services.AddFrontDoor(builder.Configuration.GetSection(FrontDoorOptions.Section));
    builder.Services.AddSingleton<IInferenceBackend, SiloInferenceBackend>();
    if (settings.OneShot.Requested) builder.Services.AddHostedService<OneShotGeneration>();

    var app = builder.Build();
    // Resolving the front door's options validates them now, so a mistake is one line and exit code 2 like the others.
    _ = app.Services.GetRequiredService<IOptions<FrontDoorOptions>>().Value;
    app.WarnAboutPlainHttp(host);
    var access = new TelemetryAccess(telemetry, app.Services.GetRequiredService<ILogger<TelemetryAccess>>(), host.HttpPort);
    app.MapTelemetry(access);
    app.MapControl(access);
    app.MapGet("/livez", LivenessEndpoint.Answer);
    app.MapGet("/healthz", (IClusterMembershipService membership, RouterRuntime router) =>
        HealthEndpoint.Answer(router.Readiness(), membership.CurrentSnapshot.Members.Count,
            membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active)));
    app.MapOpenAiEndpoints();
    // The router's status is a view like the telemetry ones: behind a viewer token.
    app.MapGet("/v1/router", async (IGrainFactory grains, IOptions<MoeSiloOptions> moe) =>
        Results.Ok(await grains.GetGrain<IRouterGrain>(moe.Value.ModelName).GetStatusAsync())).AddEndpointFilter(access.Require("views"));
    return app;
}
