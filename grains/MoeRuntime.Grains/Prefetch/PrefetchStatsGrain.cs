using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Prefetch;

/// <summary>A rank's per-layer prefetch counters, read from its tier store; lives on its rank, so reading is local.</summary>
[RankPlacement]
public sealed class PrefetchStatsGrain(ModelHost host) : Grain, IPrefetchStatsGrain
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        string key = this.GetPrimaryKeyString();
        host.EnsureServes(key[..key.LastIndexOf('/')]);
        int rank = GrainKeys.RankOf(key);
        if (rank != host.Rank) throw new InvalidOperationException($"prefetch stats of rank {rank} activated on rank {host.Rank}");
        return Task.CompletedTask;
    }

    public Task<RankPrefetchStats> GetAsync()
    {
        PrefetchLayerCounts[] layers = host.Store.PrefetchByLayer();
        return Task.FromResult(new RankPrefetchStats
        {
            Rank = host.Rank,
            Epoch = host.Store.PrefetchEpoch,
            Layers = [.. layers.Select(l => new PrefetchLayerStatsView
            {
                Layer = l.Layer,
                Issued = l.Issued,
                UsedBytes = l.UsedBytes,
                WastedBytes = l.WastedBytes,
                Failures = l.Failures,
                StallSeconds = l.StallSeconds,
            })],
        });
    }
}
