namespace MoeRuntime.Control.Balancing;

/// <summary>
/// EPLB's first step: how many replicas each expert gets. Starting from one each, the next replica always
/// goes to the expert whose replicas carry the most load each, so the heaviest pieces shrink first.
/// </summary>
static class ReplicaCounts
{
    /// <summary>
    /// The counts for 0, 1, 2, … extra replicas, up to <paramref name="maxTotal"/> replicas in all or until
    /// no expert can take another (at most one replica per rank, and unloaded experts never need one).
    /// </summary>
    public static IEnumerable<Dictionary<ExpertId, int>> Grow(IReadOnlyList<ExpertId> experts, IReadOnlyDictionary<ExpertId, double> load, int maxPerExpert, int maxTotal)
    {
        var counts = experts.ToDictionary(e => e, _ => 1);
        yield return new Dictionary<ExpertId, int>(counts);
        for (int total = experts.Count; total < maxTotal; total++)
        {
            ExpertId? next = null;
            double heaviest = 0;
            foreach (ExpertId expert in experts)
            {
                double perReplica = load.GetValueOrDefault(expert) / counts[expert];
                if (counts[expert] < maxPerExpert && perReplica > heaviest)
                {
                    heaviest = perReplica;
                    next = expert;
                }
            }
            if (next is not { } chosen) yield break;
            counts[chosen]++;
            yield return new Dictionary<ExpertId, int>(counts);
        }
    }
}
