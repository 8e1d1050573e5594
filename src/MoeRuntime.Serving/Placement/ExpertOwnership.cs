namespace MoeRuntime.Serving.Placement;

/// <summary>
/// Which rank owns which expert: experts are dealt round-robin over the live ranks in layer-major
/// order, so every rank gets an equal share of each layer and one request touches every rank.
/// Replica r of an expert sits r ranks further on, so replicas never share a rank while there are enough ranks.
/// </summary>
public static class ExpertOwnership
{
    /// <summary>The owning rank of replica <paramref name="replica"/> of an expert, among <paramref name="liveRanks"/> (any order).</summary>
    public static int OwnerOf(int layer, int expert, int expertsPerLayer, IReadOnlyCollection<int> liveRanks, int replica = 0)
    {
        if (liveRanks.Count == 0) throw new InvalidOperationException("no rank is live to own an expert");
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        ArgumentOutOfRangeException.ThrowIfNegative(replica);
        if ((uint)expert >= (uint)expertsPerLayer) throw new ArgumentOutOfRangeException(nameof(expert), $"expert {expert} of {expertsPerLayer}");
        int[] ranks = liveRanks.Order().ToArray();
        return ranks[(int)(((long)layer * expertsPerLayer + expert + replica) % ranks.Length)];
    }

    /// <summary>The whole map for a model: (layer, expert) to owning rank.</summary>
    public static int[,] Map(int layers, int expertsPerLayer, IReadOnlyCollection<int> liveRanks)
    {
        var map = new int[layers, expertsPerLayer];
        for (int l = 0; l < layers; l++)
            for (int e = 0; e < expertsPerLayer; e++)
                map[l, e] = OwnerOf(l, e, expertsPerLayer, liveRanks);
        return map;
    }
}
