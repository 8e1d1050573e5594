using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>How ranks report and aggregators merge (section <c>Moe:Telemetry</c>).</summary>
public sealed class TelemetryOptions
{
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

    /// <summary>Checked at start-up: a zero interval would stop the rank's telemetry, which the controllers read.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (Interval <= TimeSpan.Zero) throw new ArgumentException($"Moe:Telemetry:Interval must be positive, was {Interval}");
        if (Shards < 1) throw new ArgumentException($"Moe:Telemetry:Shards must be at least 1, was {Shards}");
        if (StaleAfterIntervals < 1) throw new ArgumentException($"Moe:Telemetry:StaleAfterIntervals must be at least 1, was {StaleAfterIntervals}");
        if (RankRetention <= TimeSpan.Zero) throw new ArgumentException($"Moe:Telemetry:RankRetention must be positive, was {RankRetention}");
        if (SampleEveryNTokens < 1) throw new ArgumentException($"Moe:Telemetry:SampleEveryNTokens must be at least 1, was {SampleEveryNTokens}");
    }
}
