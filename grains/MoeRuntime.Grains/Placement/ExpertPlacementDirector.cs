using MoeRuntime.Grains.Hosting;
using MoeRuntime.Serving.Placement;
using MoeRuntime.Serving.Tiers;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// Activates <c>model/layer/expert</c> on its owner among the live ranks, and a pinned replica
/// <c>model/layer/expert@rank</c> on that rank (failing clearly when the rank is gone, so the router tries
/// another replica). Until any rank has published its metadata (the first moments of a cluster) an
/// expert's default grain falls back to the local silo.
/// </summary>
public sealed class ExpertPlacementDirector(RankDirectory ranks, ModelHost host) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        string grainKey = target.GrainIdentity.Key.ToString()!;
        (ExpertKey key, int? pinned) = Experts.GrainKeys.ParseExpert(grainKey);
        SiloAddress[] compatible = context.GetCompatibleSilos(target);
        Dictionary<int, SiloAddress> ranked = ranks.Ranked(compatible);
        if (pinned is { } rank)
            return ranked.TryGetValue(rank, out SiloAddress? silo)
                ? Task.FromResult(silo)
                : throw new OrleansException($"replica {grainKey} is pinned to rank {rank}, which is not an active member of the cluster");
        if (ranked.Count == 0)
            return Task.FromResult(compatible.Contains(context.LocalSilo) ? context.LocalSilo : compatible[0]);
        int owner = ExpertOwnership.OwnerOf(key.Layer, key.Expert, host.Config.ExpertCount, ranked.Keys);
        return Task.FromResult(ranked[owner]);
    }
}

/// <summary>Activates a rank-bound grain on its rank; fails clearly when that rank is not in the cluster.</summary>
public sealed class RankPlacementDirector(RankDirectory ranks) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        int rank = Experts.GrainKeys.RankOf(target.GrainIdentity.Key.ToString()!);
        return ranks.Ranked(context.GetCompatibleSilos(target)).TryGetValue(rank, out SiloAddress? silo)
            ? Task.FromResult(silo)
            : throw new OrleansException($"rank {rank} is not an active member of the cluster");
    }
}
