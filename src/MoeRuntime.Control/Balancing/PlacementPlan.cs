namespace MoeRuntime.Control.Balancing;

/// <summary>
/// The balancer's answer: the replica map it proposes, the changes from the current map with their reasons,
/// and the rank loads it predicts before and after (an expert's load split evenly over its replicas).
/// </summary>
public sealed record PlacementPlan
{
    /// <summary>Every expert with the ranks of its replicas (ascending) once the plan is applied.</summary>
    public required IReadOnlyDictionary<ExpertId, int[]> Replicas { get; init; }

    /// <summary>Empty when the plan keeps the current map.</summary>
    public required IReadOnlyList<PlacementChange> Changes { get; init; }

    public required IReadOnlyDictionary<int, double> RankLoadBefore { get; init; }
    public required IReadOnlyDictionary<int, double> RankLoadAfter { get; init; }

    /// <summary>
    /// Per layer, the busiest rank's load over the mean rank load, weighted by the layers' loads, now
    /// (<see cref="LayerLoads.Imbalance"/>; 1 = every layer balanced). It is never under the busiest rank's total over
    /// the mean total (<see cref="RankLoads.Imbalance"/> of <see cref="RankLoadBefore"/>).
    /// </summary>
    public double ImbalanceBefore { get; init; }

    /// <summary>
    /// The same, predicted for <see cref="Replicas"/>; never above <see cref="ImbalanceBefore"/> from balancing alone
    /// (replicas <see cref="LocalityPass"/> adds are counted with an even share of their expert's load like any other).
    /// </summary>
    public double ImbalanceAfter { get; init; }

    /// <summary>
    /// Rows routers sent to an expert with no replica on the router's own rank, under today's map (from
    /// <see cref="BalancerInput.RouterDemand"/>; 0 when no demand was given): what crosses ranks when routers use a
    /// replica on their own rank whenever there is one.
    /// </summary>
    public double RemoteRowsBefore { get; init; }

    /// <summary>The same under <see cref="Replicas"/>.</summary>
    public double RemoteRowsAfter { get; init; }

    /// <summary>Why the plan is what it is, in one sentence.</summary>
    public required string Reason { get; init; }

    public bool Changed => Changes.Count > 0;

    /// <summary>The replicas of the experts the plan changes: what a placement map needs to apply it.</summary>
    public IEnumerable<KeyValuePair<ExpertId, int[]>> ChangedReplicas =>
        Changes.Select(c => c.Expert).Distinct().Order().Select(e => KeyValuePair.Create(e, Replicas[e]));
}

public enum PlacementChangeKind
{
    /// <summary>A new replica on <see cref="PlacementChange.ToRank"/>.</summary>
    Replicate,
    /// <summary>A replica leaves <see cref="PlacementChange.FromRank"/> for <see cref="PlacementChange.ToRank"/>.</summary>
    Move,
    /// <summary>The replica on <see cref="PlacementChange.FromRank"/> goes away.</summary>
    Drop,
}

/// <summary>One replica added, moved or dropped, and why.</summary>
public sealed record PlacementChange(PlacementChangeKind Kind, ExpertId Expert, int? FromRank, int? ToRank, string Reason)
{
    public override string ToString() => Kind switch
    {
        PlacementChangeKind.Replicate => $"replicate {Expert} to rank {ToRank}: {Reason}",
        PlacementChangeKind.Move => $"move {Expert} from rank {FromRank} to rank {ToRank}: {Reason}",
        _ => $"drop {Expert} from rank {FromRank}: {Reason}",
    };
}
