using System.Globalization;
using System.Text;

namespace MoeRuntime.Telemetry.Catalogue;

/// <summary>Writes <c>docs/metrics.md</c> from the catalogue, so the docs cannot drift from the code.</summary>
public static class MetricsDocument
{
    /// <summary>Repository-relative path of the generated file.</summary>
    public const string RelativePath = "docs/metrics.md";

    /// <summary>Renders the whole document for the given metrics (normally <see cref="MoeMetrics.All"/>).</summary>
    public static string Render(IReadOnlyList<MetricDefinition> metrics)
    {
        var text = new StringBuilder();
        text.Append("""
            # Metrics

            Generated from `MoeMetrics` (src/MoeRuntime.Telemetry/Catalogue) by `MetricsDocument`; do not edit by
            hand. A test fails when this file differs from what the catalogue generates: rerun it with
            `MOE_REGENERATE_DOCS=1` to rewrite the file.

            Every series carries `rank`; model-scoped series also carry `model`. Histograms are recorded on
            each rank as relative-error sketches (1% by default) and exported with the buckets below (seconds
            unless the unit says otherwise). "Sampled" distributions are recorded every N-th token of a stream
            (N is the collector's `SampleEveryNTokens`); counters are always exact. Source: `series` = recorded
            through a handle, `matrix` = dense layer/expert/tier matrix, `computed` = computed by the rank
            when it builds a summary, `derived` = computed by the aggregator from other metrics.

            | name | kind | unit | labels | source | scope | sampled | help |
            |---|---|---|---|---|---|---|---|

            """);
        foreach (var m in metrics)
        {
            var labels = m.Labels.Count == 0 ? "" : string.Join(", ", m.Labels.Select(l => $"`{l.Name}`"));
            text.Append(CultureInfo.InvariantCulture,
                $"| `{m.Name}` | {Lower(m.Kind)} | `{m.Unit}` | {labels} | {Lower(m.Source)} | {Lower(m.Scope)} | {(m.SampledPerToken ? "yes" : "")} | {m.Help} |\n");
        }

        text.Append("\n## Histogram buckets\n\n| name | upper bounds (+Inf implied) |\n|---|---|\n");
        foreach (var m in metrics.Where(m => m.Kind == MetricKind.Histogram))
        {
            var bounds = string.Join(", ", m.Buckets.Select(b => b.ToString("R", CultureInfo.InvariantCulture)));
            text.Append(CultureInfo.InvariantCulture, $"| `{m.Name}` | {bounds} |\n");
        }

        text.Append("\n## Labels\n\n| label | values or bound |\n|---|---|\n");
        var labelsInUse = metrics.SelectMany(m => m.Labels)
            .Prepend(MetricLabels.Rank).Prepend(MetricLabels.Model)
            .Distinct()
            .GroupBy(l => l.Name);
        foreach (var group in labelsInUse)
        {
            foreach (var label in group)
            {
                var values = label.Values.Count > 0 ? string.Join(", ", label.Values.Select(v => $"`{v}`")) : label.Bound;
                text.Append(CultureInfo.InvariantCulture, $"| `{label.Name}` | {values} |\n");
            }
        }

        text.Append(CultureInfo.InvariantCulture, $$"""

            Cardinality: each rank keeps at most {{MetricDefinition.DefaultMaxSeries}} label sets per metric unless the
            metric says otherwise; the layer × expert matrices are bounded by the model's shape, at most
            {{MetricLabels.ExpertLabelBound}} series per model. Label sets over a cap are refused at registration
            (their handle records nowhere) and counted in `moe_telemetry_dropped_total{reason="series_cap"}`.

            ## Availability

            One definition, used by the aggregator (`moe_cluster_slo_burn_rate{slo="availability"}` and
            `{slo="error_rate"}`) and by the recording rules `moe:error_ratio:*`: a request of `moe_requests_total`
            is bad when its `status` is not `success` and its `error_type` is not one the client caused; requests
            the client caused are not valid events and are left out of the denominator as well
            (availability = 1 - bad / valid).

            """);
        text.Append(CultureInfo.InvariantCulture,
            $"Client-caused error types: {string.Join(", ", MetricLabels.ClientCausedErrorTypes.Select(t => $"`{t}`"))}.\n");
        AppendExemplars(text);
        return text.ToString();
    }

    private static void AppendExemplars(StringBuilder text)
    {
        text.Append("\n## Exemplars\n\n");
        text.Append(CultureInfo.InvariantCulture,
            $"{string.Join(", ", Collection.LatencyExemplars.Families.Select(m => $"`{m.Name}`"))} carry trace-id exemplars when\n");
        text.Append("""
            /metrics is read as OpenMetrics (`Accept: application/openmetrics-text`, as Prometheus asks by default): a
            bucket's line ends in `# {trace_id="…",span_id="…"} value timestamp`, the latest request in that bucket whose
            trace is sampled, so exported (by head sampling, `Telemetry:TraceSampleRatio`, or because the caller's
            `traceparent` was sampled). Each rank keeps
            one exemplar per bucket and route, the newest; it takes the place of one observation of its bucket when the
            interval's sketch is replayed into the histogram, so bucket counts are unchanged. The Prometheus text format
            (no `Accept`, or `text/plain`) has no exemplars. Prometheus stores them with `--enable-feature=exemplar-storage`;
            Grafana's latency panels have the exemplars toggle on (deploy/grafana); with the Prometheus data source's
            exemplar link set to the label `trace_id` and the trace store, a click on an exemplar opens its trace.

            """);
    }

    private static string Lower<T>(T value) where T : Enum => value.ToString().ToLowerInvariant();
}
