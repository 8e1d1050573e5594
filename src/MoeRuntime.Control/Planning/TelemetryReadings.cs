using MoeRuntime.Control.Loop;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Catalogue;

namespace MoeRuntime.Control.Planning;

/// <summary>Reads the parts of the aggregator's <see cref="TelemetryView"/> that go into a <see cref="ControlInput"/>.</summary>
public static class TelemetryReadings
{
    /// <summary>p95 time per output token (the inter-token latency) and p95 time to first token, where the window measured them.</summary>
    public static ObservedLatency Latency(TelemetryView view)
    {
        ArgumentNullException.ThrowIfNull(view);
        return new ObservedLatency(P95(view, MoeMetrics.TimePerOutputTokenSeconds), P95(view, MoeMetrics.TimeToFirstTokenSeconds));
    }

    /// <summary>
    /// The cluster's p95 latencies, the tokens it served over <paramref name="interval"/> at the view's rate, and the
    /// largest layer PSI of its routing drift (0 while no layer has enough choices; null when the view has no drift).
    /// </summary>
    public static ClusterReading Cluster(TelemetryView view, TimeSpan interval)
    {
        ArgumentNullException.ThrowIfNull(view);
        double perSecond = view.Requests.PromptTokensPerSecond + view.Requests.CompletionTokensPerSecond;
        return new ClusterReading(Latency(view), (long)Math.Round(Math.Max(0, perSecond) * interval.TotalSeconds), view.RoutingDrift?.MaxPsi);
    }

    /// <summary>The timed fetches out of <paramref name="tier"/>; the view does not carry bytes, so the caller passes them.</summary>
    public static TierFetchStats Fetch(TelemetryView view, Tier tier, double fetchedBytes)
    {
        ArgumentNullException.ThrowIfNull(view);
        string name = TierNames.Of(tier);
        return view.Tiers.FirstOrDefault(t => t.Tier == name)?.FetchLatency is { Count: > 0 } fetch
            ? new TierFetchStats(fetch.Count, fetch.P50, fetch.P95, fetchedBytes)
            : TierFetchStats.None;
    }

    static double? P95(TelemetryView view, MetricDefinition metric) =>
        view.Latency.TryGetValue(metric.Name, out LatencySummary? summary) && summary.Count > 0 ? summary.P95 : null;
}
