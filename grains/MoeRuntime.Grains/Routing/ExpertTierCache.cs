using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// The router's picture of where each expert of its model sits: hot or warm if some rank's TierSet holds it
/// there, cold otherwise. Read per step as a field; refreshed from the ranks' TierSet grains in the
/// background at most once per refresh interval, so no step waits on it.
/// </summary>
public sealed class ExpertTierCache
{
    readonly IGrainFactory _grains;
    readonly ModelHost _host;
    readonly BackgroundRefresh _refresh;
    volatile Tier[][] _tiers;

    public ExpertTierCache(IGrainFactory grains, ModelHost host, TimeSpan refreshInterval, ILogger logger)
    {
        _grains = grains;
        _host = host;
        _tiers = AllCold();
        _refresh = new BackgroundRefresh(refreshInterval, RefreshAsync, e =>
            logger.LogWarning("Could not refresh the expert tiers of {Model} (keeping the previous picture): {Error}", host.ModelName, e.Message));
    }

    /// <summary>The tier of each expert of <paramref name="layer"/>, indexed by expert.</summary>
    public ReadOnlySpan<Tier> Layer(int layer)
    {
        _refresh.IfDue();
        return _tiers[layer];
    }

    Tier[][] AllCold() =>
        Enumerable.Range(0, _host.Config.LayerCount).Select(_ => Enumerable.Repeat(Tier.Cold, _host.Config.ExpertCount).ToArray()).ToArray();

    /// <summary>Reads every rank's TierSet now.</summary>
    public async Task RefreshAsync()
    {
        Tier[][] tiers = AllCold();
        foreach (RankInfo rank in await _grains.GetGrain<IClusterGrain>(0).GetRanksAsync().ConfigureAwait(false))
        {
            if (rank.Model != _host.ModelName) continue;
            TierSetView view = await _grains.GetGrain<ITierSetGrain>(GrainKeys.Rank(_host.ModelName, rank.Rank)).GetAsync().ConfigureAwait(false);
            foreach (var (key, name) in view.Tiers)
            {
                if (!TierNames.TryParse(name, out Tier tier)) continue;
                ExpertKey expert = ExpertKey.Parse(key);
                if ((uint)expert.Layer >= (uint)tiers.Length || (uint)expert.Expert >= (uint)_host.Config.ExpertCount) continue;
                ref Tier held = ref tiers[expert.Layer][expert.Expert];
                if (tier < held) held = tier;
            }
        }
        _tiers = tiers;
    }
}
