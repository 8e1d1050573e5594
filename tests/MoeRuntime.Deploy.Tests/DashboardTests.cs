using System.Text.Json;

namespace MoeRuntime.Deploy.Tests;

/// <summary>deploy/grafana/moe-runtime.json: valid JSON, the variables and panels asked for, catalogue names only.</summary>
public sealed class DashboardTests
{
    public sealed record Query(int PanelId, string Title, string RefId, string Expr);

    static JsonElement Load()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Repo.Dashboard));
        return doc.RootElement.Clone();
    }

    static IEnumerable<JsonElement> Panels(JsonElement container)
    {
        if (!container.TryGetProperty("panels", out JsonElement panels)) yield break;
        foreach (JsonElement panel in panels.EnumerateArray())
        {
            yield return panel;
            foreach (JsonElement nested in Panels(panel)) yield return nested;
        }
    }

    public static List<Query> Queries()
    {
        var queries = new List<Query>();
        foreach (JsonElement panel in Panels(Load()))
        {
            if (panel.GetProperty("type").GetString() == "row") continue;
            int id = panel.GetProperty("id").GetInt32();
            string title = panel.GetProperty("title").GetString()!;
            Assert.True(panel.TryGetProperty("targets", out JsonElement targets) && targets.GetArrayLength() > 0, $"Panel '{title}' has no query");
            foreach (JsonElement target in targets.EnumerateArray())
            {
                string expr = target.TryGetProperty("expr", out JsonElement e) ? e.GetString() ?? "" : "";
                Assert.False(string.IsNullOrWhiteSpace(expr), $"Panel '{title}' has an empty query");
                queries.Add(new Query(id, title, target.GetProperty("refId").GetString()!, expr));
            }
        }
        return queries;
    }

    [Fact]
    public void Has_datasource_model_and_rank_variables()
    {
        JsonElement list = Load().GetProperty("templating").GetProperty("list");
        var variables = list.EnumerateArray().ToDictionary(v => v.GetProperty("name").GetString()!, v => v.GetProperty("type").GetString());
        Assert.Equal("datasource", variables["datasource"]);
        Assert.Equal("query", variables["model"]);
        Assert.Equal("query", variables["rank"]);
        foreach (JsonElement panel in Panels(Load()).Where(p => p.GetProperty("type").GetString() != "row"))
            Assert.Equal("${datasource}", panel.GetProperty("datasource").GetProperty("uid").GetString());
    }

    [Fact]
    public void Panel_ids_are_unique()
    {
        var ids = Panels(Load()).Select(p => p.GetProperty("id").GetInt32()).ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
    }

    [Fact]
    public void Every_moe_metric_in_the_panels_is_in_the_catalogue()
    {
        Catalogue catalogue = Catalogue.Load();
        var unknown = (from q in Queries()
                       from name in Names.Metrics(q.Expr)
                       where !catalogue.Exports(name)
                       select $"panel '{q.Title}' {q.RefId}: {name}")
            .Concat(from q in Queries()
                    from name in Names.ClusterLatencyMetrics(q.Expr)
                    where !catalogue.IsHistogram(name)
                    select $"panel '{q.Title}' {q.RefId}: metric=\"{name}\" is not a catalogue histogram").ToList();
        Assert.True(unknown.Count == 0, "Not in docs/metrics.md (nor a moe_cluster_* series):\n" + string.Join("\n", unknown));
    }

    [Fact]
    public void Covers_what_operators_need()
    {
        string all = string.Join("\n", Queries().Select(q => q.Expr));
        string[] required =
        {
            "moe_requests_total", "moe_errors_total", "moe_request_duration_seconds_bucket",
            "moe_time_to_first_token_seconds_bucket", "moe_time_per_output_token_seconds_bucket", "moe_tokens_total",
            "moe_queue_depth", "moe_expert_hits_total", "moe_tier_hits_total", "moe:cold_miss_ratio:rate5m",
            "moe_tier_fetch_duration_seconds_bucket", "moe_tier_memory_bytes", "moe:tier_occupancy",
            "moe_prefetch_effectiveness_ratio", "moe_routing_mismatches_total", "moe_kv_cache_bytes",
            "moe:cost_per_1k_tokens:rate1h", "moe_cluster_slo_burn_rate",
        };
        var missing = required.Where(r => !all.Contains(r, StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "No panel queries: " + string.Join(", ", missing));
        // The heat map shows experts of each layer.
        Assert.Contains(Panels(Load()), p => p.GetProperty("type").GetString() == "heatmap"
            && p.GetProperty("targets")[0].GetProperty("expr").GetString()!.Contains("moe_expert_hits_total"));
    }

    /// <summary>
    /// Every quantile of a latency histogram that carries exemplars (TTFT, inter-token latency, request duration) has
    /// Grafana's exemplars toggle on, so an operator clicks from a slow point to its trace.
    /// </summary>
    [Fact]
    public void Latency_quantiles_show_exemplars()
    {
        string[] families = ["moe_request_duration_seconds_bucket", "moe_time_to_first_token_seconds_bucket", "moe_time_per_output_token_seconds_bucket"];
        var latency = new List<string>();
        foreach (JsonElement panel in Panels(Load()).Where(p => p.GetProperty("type").GetString() != "row"))
        {
            foreach (JsonElement target in panel.GetProperty("targets").EnumerateArray())
            {
                string expr = target.GetProperty("expr").GetString()!;
                if (!expr.StartsWith("histogram_quantile(", StringComparison.Ordinal) || !families.Any(f => expr.Contains(f, StringComparison.Ordinal))) continue;
                latency.Add(expr);
                Assert.True(target.TryGetProperty("exemplar", out JsonElement exemplar) && exemplar.ValueKind == JsonValueKind.True,
                    $"panel '{panel.GetProperty("title").GetString()}' query {target.GetProperty("refId").GetString()} does not show exemplars: {expr}");
            }
        }
        Assert.True(latency.Count >= 6, $"only {latency.Count} latency quantile queries found");
    }
}
