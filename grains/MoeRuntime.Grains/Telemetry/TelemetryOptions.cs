using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Drift;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>How ranks report and aggregators merge (section <c>Moe:Telemetry</c>); checked at start-up by <see cref="Hosting.MoeOptionsValidation"/>.</summary>
public sealed class TelemetryOptions
{
    public const string Section = "Moe:Telemetry";

    /// <summary>False turns the rank's recording and shipping off (for measuring telemetry's own overhead).</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>How often a rank ships a summary and a shard forwards its merge.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>Shard aggregators ranks report to (rank mod shards).</summary>
    public int Shards { get; set; } = 4;
    /// <summary>A rank silent for this many intervals is stale; its gauges stop counting.</summary>
    public int StaleAfterIntervals { get; set; } = 5;
    /// <summary>A rank silent this long is forgotten.</summary>
    public TimeSpan RankRetention { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Tokens per recorded sample of per-token distributions and routing digests.</summary>
    public int SampleEveryNTokens { get; set; } = 16;
    public SloTargets Slo { get; set; } = new();
    /// <summary>Prices the cost estimates use ($ per 1k prompt/completion tokens, $ per GB-hour of each tier).</summary>
    public CostRates Costs { get; set; } = new();
    /// <summary>
    /// The cluster's secret for tenant pseudonyms in logs and spans (HMAC-SHA-256; at least 32 characters, the same on
    /// every rank, kept like a password). Empty: a random key per process, so pseudonyms differ between ranks and restarts.
    /// </summary>
    public string PseudonymKey { get; set; } = "";
    /// <summary>The windows and threshold of routing drift, which the cluster aggregator computes from the ranks' expert counts.</summary>
    public RoutingDriftSettings RoutingDrift { get; set; } = new();

}
