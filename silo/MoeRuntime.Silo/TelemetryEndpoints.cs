using System.Text.Json;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Aggregation;
using Microsoft.Extensions.Options;
using MoeRuntime.Telemetry.Security;
using Prometheus;

namespace MoeRuntime.Silo;

/// <summary>
/// The telemetry HTTP surface of a rank: Prometheus /metrics, JSON views of the cluster aggregator
/// for dashboards, the built-in dashboard page (viewer tokens), and the tenant-deletion call (operator tokens).
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
        // The runtime keeps no per-tenant records: aggregates carry no tenant, and a tenant appears only as its keyed
        // pseudonym in logs and spans, which leave the process for the log and trace stores. The answer is that pseudonym,
        // so those stores can purge it; the tenant's name is not echoed. An operator's call (docs/security-http.md).
        views.MapDelete("/tenants/{tenant}", (string tenant, TenantPseudonyms pseudonyms) => Results.Ok(new
        {
            pseudonym = pseudonyms.Of(tenant),
            removed = 0,
            stored = "no per-tenant records in this runtime",
            purge = new[] { "logs: the Tenant field", "spans: the moe.tenant attribute" },
        })).AddEndpointFilter(access.Require("views", AccessRole.Operator));

        app.MapGet("/dashboard", (HttpResponse response) =>
        {
            Dashboard.Protect(response);
            return Results.Content(Dashboard.Html, "text/html; charset=utf-8");
        }).AddEndpointFilter(access.Require("dashboard"));
        // The page's scripts and stylesheets hold no data, so a browser loads them without the token (which stays in the page).
        foreach ((string name, DashboardAsset asset) in Dashboard.Assets)
        {
            app.MapGet($"/dashboard/{name}", (HttpResponse response) =>
            {
                Dashboard.Protect(response);
                return Results.Content(asset.Text, asset.ContentType);
            });
        }
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
