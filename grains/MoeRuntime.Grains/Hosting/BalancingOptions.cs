namespace MoeRuntime.Grains.Hosting;

/// <summary>How expert load is balanced over ranks (section <c>Moe:Balancing</c>).</summary>
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
    public string LoadWindow { get; set; } = "1m";
    /// <summary>How often a router checks the placement map for a new version (one call, only when due).</summary>
    public TimeSpan MapRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Checked at start-up, so a mistake is found then and not at the first balancing.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!(Threshold >= 1) || double.IsInfinity(Threshold)) throw new ArgumentException($"Moe:Balancing:Threshold is a max/mean ratio, at least 1, was {Threshold}");
        if (ExtraReplicaSlotsPerRank < 0) throw new ArgumentException($"Moe:Balancing:ExtraReplicaSlotsPerRank must not be negative, was {ExtraReplicaSlotsPerRank}");
        if (MaxChanges < 0) throw new ArgumentException($"Moe:Balancing:MaxChanges must not be negative, was {MaxChanges}");
        if (LoadWindow is not ("20s" or "1m" or "5m" or "1h")) throw new ArgumentException($"Moe:Balancing:LoadWindow must be 20s, 1m, 5m or 1h, was '{LoadWindow}'");
        if (MapRefreshInterval <= TimeSpan.Zero) throw new ArgumentException($"Moe:Balancing:MapRefreshInterval must be positive, was {MapRefreshInterval}");
    }
}
