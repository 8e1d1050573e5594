using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Serving.Placement;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Cluster;

/// <summary>Answers operators' questions about the cluster from the silo it runs on: ranks and expert ownership.</summary>
[StatelessWorker]
public sealed class ClusterGrain(RankDirectory ranks, ModelHost host) : Grain, IClusterGrain
{
    public Task<RankInfo[]> GetRanksAsync() =>
        Task.FromResult(ranks.Members()
            .OrderBy(m => m.Rank ?? int.MaxValue)
            .Select(m => new RankInfo { Rank = m.Rank ?? -1, Silo = m.Silo.ToString(), Status = m.Status.ToString(), Model = host.ModelName })
            .ToArray());

    public Task<Dictionary<string, int>> GetOwnershipAsync(string model)
    {
        host.EnsureServes(model);
        int[] live = ranks.LiveRanks();
        var owners = new Dictionary<string, int>();
        if (live.Length == 0) return Task.FromResult(owners);
        for (int layer = 0; layer < host.Config.LayerCount; layer++)
            for (int expert = 0; expert < host.Config.ExpertCount; expert++)
                owners[GrainKeys.Expert(model, layer, expert)] = ExpertOwnership.OwnerOf(layer, expert, host.Config.ExpertCount, live);
        return Task.FromResult(owners);
    }
}
