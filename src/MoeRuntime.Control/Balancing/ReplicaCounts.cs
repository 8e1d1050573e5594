namespace MoeRuntime.Control.Balancing;

/// <summary>
/// EPLB's first step: how many replicas each expert gets. Starting from one each, the next replica always
/// goes to the expert whose replicas carry the most load each, so the heaviest pieces shrink first.
/// </summary>
static class ReplicaCounts
{
    /// <summary>
    /// The counts for 0, 1, 2, 3, 4, 6, 8, 12, … extra replicas (every count up to 4, then steps of about a half), up to
    /// <paramref name="maxTotal"/> replicas in all or until no expert can take another (at most one replica per rank,
    /// and unloaded experts never need one). Growing by half keeps a model with thousands of experts to a few dozen
    /// candidates while small plans still try every count.
    /// </summary>
    public static IEnumerable<Dictionary<ExpertId, int>> Grow(IReadOnlyList<ExpertId> experts, IReadOnlyDictionary<ExpertId, double> load, int maxPerExpert, int maxTotal)
    {
        var counts = experts.ToDictionary(e => e, _ => 1);
        yield return new Dictionary<ExpertId, int>(counts);
        int extra = 0, yielded = 0, nextYield = 1;
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
            if (next is not { } chosen) break;
            counts[chosen]++;
            if (++extra == nextYield)
            {
                yield return new Dictionary<ExpertId, int>(counts);
                yielded = extra;
                nextYield = extra < 4 ? extra + 1 : extra + extra / 2;
            }
        }
        // The most replicas the budget allows is always a candidate.
        if (extra > yielded) yield return counts;
    }
}
