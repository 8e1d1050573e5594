using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>
/// The rank's copy of the cluster's telemetry sampling (<see cref="ITierControllerGrain.GetSamplingAsync"/>). Reading
/// it is a field read; refreshing is one call to the controller grain at most every <see cref="ControlOptions.SettingsRefreshInterval"/>,
/// started by the reader that finds it due and never awaited by it. With the controllers off it never calls and
/// samples as configured.
/// </summary>
public sealed class TelemetrySamplingCache
{
    readonly IGrainFactory _grains;
    readonly ModelHost _host;
    readonly ILogger<TelemetrySamplingCache> _logger;
    readonly BackgroundRefresh? _refresh;
    readonly int _routingCheckEvery;
    volatile TelemetrySamplingView _current = new();
    volatile int _routingCheckEveryNow;

    public TelemetrySamplingCache(IGrainFactory grains, ModelHost host, IOptions<MoeSiloOptions> options, ILogger<TelemetrySamplingCache> logger)
    {
        _grains = grains;
        _host = host;
        _logger = logger;
        _routingCheckEvery = _routingCheckEveryNow = options.Value.RoutingCheckEveryNTokens;
        ControlOptions control = options.Value.Control;
        if (control.Enabled)
            _refresh = new BackgroundRefresh(control.SettingsRefreshInterval, RefreshAsync, e =>
                logger.LogWarning("Could not refresh the telemetry sampling of {Model} (keeping v{Version}): {Error}", host.ModelName, _current.Version, e.Message));
    }

    /// <summary>Share of what the configuration samples that is sampled now, in (0, 1].</summary>
    public double Ratio => _current.Ratio;

    /// <summary>Every how many token positions the router records a routing digest and has it re-checked: the configured interval ÷ <see cref="Ratio"/>.</summary>
    public int RoutingCheckEveryNTokens => _routingCheckEveryNow;

    /// <summary>Starts a refresh in the background when one is due and none is running.</summary>
    public void RefreshIfDue() => _refresh?.IfDue();

    /// <summary>Fetches the sampling and swaps it in when its version differs from the copy's.</summary>
    public async Task RefreshAsync()
    {
        TelemetrySamplingView view = await _grains.GetGrain<ITierControllerGrain>(_host.ModelName).GetSamplingAsync().ConfigureAwait(false);
        // The ratio too: a controller whose storage was lost (a localhost silo restarted) numbers its versions afresh.
        if (view.Version == _current.Version && view.Ratio == _current.Ratio) return;
        if (!(view.Ratio is > 0 and <= 1))
            throw new InvalidOperationException($"telemetry sampling v{view.Version} has ratio {view.Ratio}, outside (0, 1]");
        _routingCheckEveryNow = (int)Math.Min(int.MaxValue, Math.Ceiling(_routingCheckEvery / view.Ratio));
        _current = view;
        _logger.LogInformation("Rank {Rank} samples telemetry at {Ratio:P0} of its configuration (v{Version} of {Model}, by {ChangedBy}): routing checks every {Every} tokens",
            _host.Rank, view.Ratio, view.Version, _host.ModelName, view.ChangedBy, _routingCheckEveryNow);
    }
}
