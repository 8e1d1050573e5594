using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;

namespace MoeRuntime.Grains.Experts;

/// <summary>
/// A rank's experts as one grain (<c>model/rank</c>, on that rank): one call per layer from a router carries the rows of
/// every expert of that layer the rank owns; the rank's <see cref="ExpertExecutor"/> runs them one after another (counted
/// as calls of their default grains), and an expert's own fault comes back in the answer, not as a failed call.
/// </summary>
[RankPlacement]
public sealed class RankExpertsGrain(ExpertExecutor executor, ModelHost host) : Grain, IRankExpertsGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        host.EnsureServes(key[..key.LastIndexOf('/')]);
        int rank = GrainKeys.RankOf(key);
        if (rank != host.Rank) throw new InvalidOperationException($"the experts of rank {rank} activated on rank {host.Rank}");
        return Task.CompletedTask;
    }

    public Task<RankExpertsAnswer> ComputeAsync(RankExpertsCall call, CancellationToken cancellationToken) =>
        executor.ComputeManyAsync(call, replica: false, cancellationToken);
}
