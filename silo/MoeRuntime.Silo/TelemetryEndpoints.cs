using System.Text.Json;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Aggregation;
using Microsoft.Extensions.Options;
using Prometheus;

namespace MoeRuntime.Silo;

/// <summary>
/// The telemetry HTTP surface of a rank: Prometheus /metrics, JSON views of the cluster aggregator
/// for dashboards, the built-in dashboard page, and the tenant-deletion call. All need a token.
/// </summary>
static class TelemetryEndpoints
{
    static readonly string[] Views = ["summary", "experts", "tiers", "mismatches", "slos", "ranks", "latency"];

    public static void MapTelemetry(this WebApplication app, TelemetryAccess access)
    {
        app.MapGet("/metrics", async (HttpContext http) =>
        {
            bool openMetrics = http.Request.Headers.Accept.ToString().Contains("application/openmetrics-text", StringComparison.Ordinal);
            http.Response.ContentType = openMetrics
                ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
                : "text/plain; version=0.0.4; charset=utf-8";
            await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(http.Response.Body,
                openMetrics ? ExpositionFormat.OpenMetricsText : ExpositionFormat.PrometheusText, http.RequestAborted);
        }).AddEndpointFilter(access.Require("metrics"));

        var views = app.MapGroup("/v1/telemetry").AddEndpointFilter(access.Require("views"));
        views.MapGet("/{view}", async (string view, string? window, IGrainFactory grains) =>
        {
            if (!Views.Contains(view)) return Results.NotFound(new { error = $"unknown view '{view}'", views = Views });
            if (window is not null && !TelemetryWindows.TryParse(window, out _)) return Results.BadRequest(new { error = $"unknown window '{window}' ({string.Join(", ", TelemetryWindows.Names)})" });
            byte[] json = await grains.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(window ?? "1m");
            return view == "summary" ? Results.Bytes(json, "application/json") : Results.Json(Slice(view, json), TelemetryJson.Options);
        });
        views.MapGet("/ranks/{rank:int}", async (int rank, string? window, IGrainFactory grains, IOptions<TelemetryOptions> options) =>
        {
            try
            {
                IShardAggregatorGrain shard = grains.GetGrain<IShardAggregatorGrain>(rank % options.Value.Shards);
                return Results.Bytes(await shard.GetRankViewAsync(rank.ToString(), window ?? "1m"), "application/json");
            }
            catch (ArgumentException e)
            {
                return Results.BadRequest(new { error = e.Message });
            }
        });
        // Telemetry keeps no per-tenant records: tenants appear only as pseudonyms in logs and spans, which
        // their own retention governs. The call exists so that a deletion request gets a definite answer.
        views.MapDelete("/tenants/{tenant}", (string tenant) => Results.Ok(new { tenant, removed = 0, stored = "no per-tenant telemetry records" }));

        app.MapGet("/dashboard", () => Results.Content(Dashboard.Html, "text/html; charset=utf-8")).AddEndpointFilter(access.Require("dashboard"));
    }

    static object Slice(string view, byte[] json)
    {
        TelemetryView v = JsonSerializer.Deserialize<TelemetryView>(json, TelemetryJson.Options)!;
        return view switch
        {
            "experts" => new { v.Window, v.GeneratedAt, v.Experts },
            "tiers" => new { v.Window, v.GeneratedAt, v.Tiers, v.Prefetch, v.KvCache },
            "mismatches" => new { v.Window, v.GeneratedAt, v.Mismatches },
            "slos" => new { v.Window, v.GeneratedAt, v.Slos, v.Requests },
            "ranks" => new { v.Window, v.GeneratedAt, v.Ranks },
            _ => new { v.Window, v.GeneratedAt, v.Latency },
        };
    }
}
