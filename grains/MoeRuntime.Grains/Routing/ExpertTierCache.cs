using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// The router's picture of where each expert of its model sits: hot or warm if some rank's TierSet holds it
/// there, cold otherwise. Read per step as a field; refreshed from the ranks' TierSet grains in the
/// background at most once per <paramref name="refreshInterval"/>, so no step waits on it.
/// </summary>
public sealed class ExpertTierCache(IGrainFactory grains, ModelHost host, TimeSpan refreshInterval, ILogger logger)
{
    readonly long _interval = (long)(refreshInterval.TotalSeconds * Stopwatch.Frequency);
    volatile Tier[][] _tiers = Enumerable.Range(0, host.Config.LayerCount).Select(_ => Enumerable.Repeat(Tier.Cold, host.Config.ExpertCount).ToArray()).ToArray();
    long _lastCheck = long.MinValue / 2;
    int _refreshing;

    /// <summary>The tier of each expert of <paramref name="layer"/>, indexed by expert.</summary>
    public ReadOnlySpan<Tier> Layer(int layer)
    {
        RefreshIfDue();
        return _tiers[layer];
    }

    void RefreshIfDue()
    {
        long now = Stopwatch.GetTimestamp();
        if (now - Interlocked.Read(ref _lastCheck) < _interval || Interlocked.CompareExchange(ref _refreshing, 1, 0) != 0) return;
        Interlocked.Exchange(ref _lastCheck, now);
        _ = RefreshInBackgroundAsync();
    }

    async Task RefreshInBackgroundAsync()
    {
        try
        {
            await RefreshAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogWarning("Could not refresh the expert tiers of {Model} (keeping the previous picture): {Error}", host.ModelName, e.Message);
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    /// <summary>Reads every rank's TierSet now.</summary>
    public async Task RefreshAsync()
    {
        Tier[][] tiers = Enumerable.Range(0, host.Config.LayerCount).Select(_ => Enumerable.Repeat(Tier.Cold, host.Config.ExpertCount).ToArray()).ToArray();
        foreach (RankInfo rank in await grains.GetGrain<IClusterGrain>(0).GetRanksAsync().ConfigureAwait(false))
        {
            if (rank.Model != host.ModelName) continue;
            TierSetView view = await grains.GetGrain<ITierSetGrain>(ExpertKeys.OfRank(host.ModelName, rank.Rank)).GetAsync().ConfigureAwait(false);
            foreach (var (key, name) in view.Tiers)
            {
                if (!Enum.TryParse(name, ignoreCase: true, out Tier tier)) continue;
                ExpertKey expert = ExpertKey.Parse(key);
                if ((uint)expert.Layer >= (uint)tiers.Length || (uint)expert.Expert >= (uint)host.Config.ExpertCount) continue;
                ref Tier held = ref tiers[expert.Layer][expert.Expert];
                if (tier < held) held = tier;
            }
        }
        _tiers = tiers;
    }
}
