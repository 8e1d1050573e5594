namespace MoeRuntime.Control.Balancing;

/// <summary>What the balancer decides from: measured load, where replicas are now, and the limits it must keep.</summary>
public sealed record BalancerInput
{
    /// <summary>Tokens each expert received over the measured interval; experts absent here carried none.</summary>
    public required IReadOnlyDictionary<ExpertId, double> Load { get; init; }

    /// <summary>
    /// Every expert of the model with the ranks that hold a replica of it now. Replicas on ranks that are
    /// not live are ignored; every expert needs at least one live replica.
    /// </summary>
    public required IReadOnlyDictionary<ExpertId, IReadOnlyList<int>> Placement { get; init; }

    public required IReadOnlyList<int> LiveRanks { get; init; }

    /// <summary>
    /// Most replicas one rank may hold. All experts of a model have the same size, so this is the rank's
    /// byte budget for experts divided by one expert's bytes.
    /// </summary>
    public required int SlotsPerRank { get; init; }

    /// <summary>Balance is good enough when the busiest rank's load over the mean rank load is at most this (≥ 1).</summary>
    public double Threshold { get; init; } = 1.25;

    /// <summary>Most replica changes (added, moved or dropped) one plan may make: each one loads weights on a rank.</summary>
    public int MaxChanges { get; init; } = 8;

    /// <summary>
    /// Rows each router rank sent each expert over the measured interval (router rank → expert → rows); null when not
    /// measured. Only read when <see cref="LocalExpertsPerLayer"/> is above 0.
    /// </summary>
    public IReadOnlyDictionary<int, IReadOnlyDictionary<ExpertId, double>>? RouterDemand { get; init; }

    /// <summary>
    /// Locality (0 = off): after balancing, each live router rank gets a replica of up to this many of its most used
    /// experts per layer, within the slots and the cap on changes (<see cref="LocalityPass"/>).
    /// </summary>
    public int LocalExpertsPerLayer { get; init; }

    internal void Validate()
    {
        if (LiveRanks.Count == 0) throw new ArgumentException("no live rank to place experts on");
        if (LiveRanks.Distinct().Count() != LiveRanks.Count) throw new ArgumentException("live ranks are listed more than once");
        if (SlotsPerRank < 1) throw new ArgumentException($"a rank needs at least one replica slot (has {SlotsPerRank})");
        if (!(Threshold >= 1)) throw new ArgumentException($"the max/mean threshold must be at least 1 (is {Threshold})");
        ArgumentOutOfRangeException.ThrowIfNegative(MaxChanges);
        if (LocalExpertsPerLayer < 0) throw new ArgumentException($"local experts per layer cannot be negative (is {LocalExpertsPerLayer})");
        foreach (var (router, demand) in RouterDemand ?? new Dictionary<int, IReadOnlyDictionary<ExpertId, double>>())
            foreach (var (expert, rows) in demand)
            {
                if (!Placement.ContainsKey(expert)) throw new ArgumentException($"router rank {router} sent rows to expert {expert}, which has no placement");
                if (!(rows >= 0) || double.IsInfinity(rows)) throw new ArgumentException($"router rank {router} sent expert {expert} {rows} rows; rows are finite and not negative");
            }
        foreach (var (expert, load) in Load)
        {
            if (!Placement.ContainsKey(expert)) throw new ArgumentException($"expert {expert} has load but no placement");
            if (!(load >= 0) || double.IsInfinity(load)) throw new ArgumentException($"expert {expert} has load {load}; loads are finite and not negative");
        }
    }
}
