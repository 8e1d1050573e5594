using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Prefetch;

/// <summary>
/// The rank's copy of its model's prefetch settings (the cluster's, or the rank's override under a canary trial), for the router. Reading it is a field read; refreshing is one
/// call to <see cref="IPrefetchControllerGrain"/> at most every <see cref="PrefetchControlOptions.SettingsRefreshInterval"/>,
/// started by the step that finds it due and never awaited by it. Until the first answer the router prefetches as
/// configured (<see cref="MoeSiloOptions.PrefetchLookahead"/>, every predicted expert).
/// </summary>
public sealed class PrefetchSettingsCache
{
    readonly IGrainFactory _grains;
    readonly ModelHost _host;
    readonly ILogger<PrefetchSettingsCache> _logger;
    readonly BackgroundRefresh _refresh;
    volatile RouterPrefetchSettings _current;

    public PrefetchSettingsCache(IGrainFactory grains, ModelHost host, IOptions<MoeSiloOptions> silo, IOptions<PrefetchControlOptions> options,
        ILogger<PrefetchSettingsCache> logger)
    {
        _grains = grains;
        _host = host;
        _logger = logger;
        _current = RouterPrefetchSettings.Initial(silo.Value.PrefetchLookahead, host.Config.LayerCount);
        _refresh = new BackgroundRefresh(options.Value.SettingsRefreshInterval, RefreshAsync, e =>
            logger.LogWarning("Could not refresh the prefetch settings of {Model} (keeping v{Version}): {Error}", host.ModelName, _current.Version, e.Message));
    }

    public RouterPrefetchSettings Current => _current;

    /// <summary>Starts a refresh in the background when one is due and none is running.</summary>
    public void RefreshIfDue() => _refresh.IfDue();

    /// <summary>Fetches the settings and swaps them in when their version differs from the copy's.</summary>
    public async Task RefreshAsync()
    {
        PrefetchSettingsView view = await _grains.GetGrain<IPrefetchControllerGrain>(_host.ModelName).GetRankSettingsAsync(_host.Rank).ConfigureAwait(false);
        var thresholds = new float[_host.Config.LayerCount];
        for (int layer = 0; layer < thresholds.Length && layer < view.Thresholds.Length; layer++) thresholds[layer] = (float)view.Thresholds[layer];
        // A rank override (a canary trial) carries the cluster's version it was made from: the content tells them apart.
        if (view.Version == _current.Version && Math.Max(0, view.Lookahead) == _current.Lookahead && thresholds.AsSpan().SequenceEqual(_current.Thresholds)) return;
        _current = new RouterPrefetchSettings(view.Version, Math.Max(0, view.Lookahead), thresholds);
        _logger.LogInformation("Router of rank {Rank} prefetches with settings v{Version} of {Model}: lookahead {Lookahead}, thresholds [{Thresholds}]",
            _host.Rank, view.Version, _host.ModelName, view.Lookahead, string.Join(", ", view.Thresholds.Select(t => t.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture))));
    }
}

/// <summary>One version of the prefetch settings as the router uses them; <see cref="Thresholds"/> has one entry per layer.</summary>
public sealed record RouterPrefetchSettings(long Version, int Lookahead, float[] Thresholds)
{
    public static RouterPrefetchSettings Initial(int lookahead, int layers) => new(0, lookahead, new float[layers]);
}
