using Microsoft.Extensions.Options;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;

namespace MoeRuntime.Silo;

/// <summary>
/// The controllers' HTTP surface, read-only and behind the same tokens as the telemetry views: the decision log
/// (newest first) and the controllers' status. Changing the loop (pins, dry run, a tick) goes through the grains
/// (<c>moe control ...</c>), which need cluster access rather than a dashboard token. Denials count under the
/// <c>views</c> endpoint label, whose values the metric catalogue fixes.
/// </summary>
static class ControlEndpoints
{
    const int MaxDecisions = 2000;

    public static void MapControl(this WebApplication app, TelemetryAccess access)
    {
        var control = app.MapGroup("/v1/control").AddEndpointFilter(access.Require("views"));
        control.MapGet("/decisions", async (int? max, string? controller, IGrainFactory grains, IOptions<MoeSiloOptions> moe) =>
        {
            if (max is < 1 or > MaxDecisions) return Results.BadRequest(new { error = $"max must be between 1 and {MaxDecisions}" });
            ControlDecisionRecord[] decisions = await grains.GetGrain<IControlDecisionLogGrain>(moe.Value.ModelName)
                .GetDecisionsAsync(max ?? 100, string.IsNullOrWhiteSpace(controller) ? null : controller);
            return Results.Json(decisions, TelemetryJson.Options);
        });
        control.MapGet("/status", async (IGrainFactory grains, IOptions<MoeSiloOptions> moe) =>
            Results.Json(await grains.GetGrain<ITierControllerGrain>(moe.Value.ModelName).GetStatusAsync(), TelemetryJson.Options));
    }
}
