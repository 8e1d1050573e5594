using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.Layers;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// Rows this rank's router sent each expert (computed here or elsewhere), counted per layer step: one add per active
/// expert, no allocation. Cumulative since the silo started; the balancer differences what it read last time.
/// </summary>
public sealed class RouterDemand(ModelHost host)
{
    readonly long[] _rows = new long[host.Config.LayerCount * host.Config.ExpertCount];

    public void Count(int layer, RoutingPlan plan, ReadOnlySpan<int> experts)
    {
        int first = layer * host.Config.ExpertCount;
        foreach (int expert in experts) Interlocked.Add(ref _rows[first + expert], plan.TokenCountFor(expert));
    }

    /// <summary>A copy of the counts, layer-major.</summary>
    public long[] Snapshot()
    {
        var copy = new long[_rows.Length];
        for (int i = 0; i < copy.Length; i++) copy[i] = Interlocked.Read(ref _rows[i]);
        return copy;
    }
}

/// <summary>Serves <see cref="RouterDemand"/> of its rank.</summary>
[RankPlacement]
public sealed class RouterDemandGrain(ModelHost host, RouterDemand demand) : Grain, IRouterDemandGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        host.EnsureServes(key[..key.LastIndexOf('/')]);
        int rank = Experts.GrainKeys.RankOf(key);
        if (rank != host.Rank) throw new InvalidOperationException($"the router demand of rank {rank} activated on rank {host.Rank}");
        return Task.CompletedTask;
    }

    public Task<long[]> GetRowsAsync() => Task.FromResult(demand.Snapshot());
}
