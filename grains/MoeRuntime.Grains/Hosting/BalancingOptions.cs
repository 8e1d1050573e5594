using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Grains.Hosting;

/// <summary>How expert load is balanced over ranks (section <c>Moe:Balancing</c>); <see cref="MoeOptionsValidation"/> checks it at start-up.</summary>
public sealed class BalancingOptions
{
    /// <summary>
    /// Busiest rank's load over the mean rank load, per layer (weighted by the layers' loads), above which the balancer
    /// acts: a step waits at every layer for that layer's busiest rank.
    /// </summary>
    public double Threshold { get; set; } = 1.25;
    /// <summary>
    /// Replicas a rank may hold beyond its even share of the model's experts. Replicas cost the rank's
    /// tier budgets like any expert; this keeps their number bounded before bytes are.
    /// </summary>
    public int ExtraReplicaSlotsPerRank { get; set; } = 4;
    /// <summary>Most replica changes one balancing may make: each one loads an expert's weights on a rank.</summary>
    public int MaxChanges { get; set; } = 8;
    /// <summary>Telemetry window the expert load is read from.</summary>
    public TelemetryWindow LoadWindow { get; set; } = TelemetryWindow.OneMinute;
    /// <summary>How often a router checks the placement map for a new version (one call, only when due).</summary>
    public TimeSpan MapRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>
    /// Locality (0 = off, today's behaviour): the balancer also gives each router rank a replica of up to this many of
    /// the experts per layer its router sent the most rows to since the previous balancing (within the slots and the
    /// cap on changes), and a router computes an expert in-process whenever a replica of it is on its own rank instead
    /// of spreading that expert's rows over every replica.
    /// </summary>
    public int LocalExpertsPerLayer { get; set; }
}
