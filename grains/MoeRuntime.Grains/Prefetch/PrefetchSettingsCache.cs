using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Prefetch;

/// <summary>
/// The rank's copy of its model's prefetch settings, for the router. Reading it is a field read; refreshing is one
/// call to <see cref="IPrefetchControllerGrain"/> at most every <see cref="PrefetchControlOptions.SettingsRefreshInterval"/>,
/// started by the step that finds it due and never awaited by it. Until the first answer the router prefetches as
/// configured (<see cref="MoeSiloOptions.PrefetchLookahead"/>, every predicted expert).
/// </summary>
public sealed class PrefetchSettingsCache(IGrainFactory grains, ModelHost host, IOptions<MoeSiloOptions> silo, IOptions<PrefetchControlOptions> options,
    ILogger<PrefetchSettingsCache> logger)
{
    readonly long _interval = (long)(options.Value.SettingsRefreshInterval.TotalSeconds * Stopwatch.Frequency);
    volatile RouterPrefetchSettings _current = RouterPrefetchSettings.Initial(Math.Max(0, silo.Value.PrefetchLookahead), host.Config.LayerCount);
    long _lastCheck = Stopwatch.GetTimestamp() - (long)(options.Value.SettingsRefreshInterval.TotalSeconds * Stopwatch.Frequency);
    int _refreshing;

    public RouterPrefetchSettings Current => _current;

    /// <summary>Starts a refresh in the background when one is due and none is running.</summary>
    public void RefreshIfDue()
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
            logger.LogWarning("Could not refresh the prefetch settings of {Model} (keeping v{Version}): {Error}", host.ModelName, _current.Version, e.Message);
        }
        finally
        {
            Volatile.Write(ref _refreshing, 0);
        }
    }

    /// <summary>Fetches the settings and swaps them in when their version differs from the copy's.</summary>
    public async Task RefreshAsync()
    {
        PrefetchSettingsView view = await grains.GetGrain<IPrefetchControllerGrain>(host.ModelName).GetSettingsAsync().ConfigureAwait(false);
        if (view.Version == _current.Version) return;
        var thresholds = new float[host.Config.LayerCount];
        for (int layer = 0; layer < thresholds.Length && layer < view.Thresholds.Length; layer++) thresholds[layer] = (float)view.Thresholds[layer];
        _current = new RouterPrefetchSettings(view.Version, Math.Max(0, view.Lookahead), thresholds);
        logger.LogInformation("Router of rank {Rank} prefetches with settings v{Version} of {Model}: lookahead {Lookahead}, thresholds [{Thresholds}]",
            host.Rank, view.Version, host.ModelName, view.Lookahead, string.Join(", ", view.Thresholds.Select(t => t.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture))));
    }
}

/// <summary>One version of the prefetch settings as the router uses them; <see cref="Thresholds"/> has one entry per layer.</summary>
public sealed record RouterPrefetchSettings(long Version, int Lookahead, float[] Thresholds)
{
    public static RouterPrefetchSettings Initial(int lookahead, int layers) => new(0, lookahead, new float[layers]);
}
