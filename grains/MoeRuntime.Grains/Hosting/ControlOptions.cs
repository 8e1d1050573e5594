using MoeRuntime.Control.Canary;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Latency;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Collection;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The tier controllers' loop (section <c>Moe:Control</c>): whether it runs, how often, and its guardrails;
/// <see cref="MoeOptionsValidation"/> checks it at start-up by building the controllers' own options.
/// </summary>
public sealed class ControlOptions
{
    /// <summary>False leaves every TierSet to operators: no controller timer starts.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Only propose: decisions are recorded as proposed and nothing is written (switchable at run time).</summary>
    public bool DryRun { get; set; }
    /// <summary>How often the controllers read the ranks and decide.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// Telemetry window the observed latency is read from (20s, 1m, 5m, 1h). A window much longer than the
    /// interval lags the controller's own moves: it keeps giving memory back on the strength of latency that
    /// has already gone.
    /// </summary>
    public TelemetryWindow LatencyWindow { get; set; } = TelemetryWindow.TwentySeconds;
    /// <summary>Most tier moves admitted per rank, controller and interval (at least 3: one swap).</summary>
    public int MaxChangesPerInterval { get; set; } = 16;
    /// <summary>How much more per byte a promoted expert must be worth than the one it displaces.</summary>
    public double HysteresisRatio { get; set; } = 0.1;
    /// <summary>
    /// Copies of the rank's largest expert the controllers leave free in the hot budget: an expert not assigned hot is
    /// brought hot for the length of a call, and needs the room.
    /// </summary>
    public int TransientHeadroomExperts { get; set; } = 1;
    /// <summary>How often each rank re-reads the telemetry sampling the controllers set.</summary>
    public TimeSpan SettingsRefreshInterval { get; set; } = TimeSpan.FromSeconds(2);
    /// <summary>Every how many intervals the load balancer runs (as a dry run when the controllers are); 0 never.</summary>
    public int BalanceEveryIntervals { get; set; }
    /// <summary>The latency controller's targets and pace (section <c>Moe:Control:Latency</c>), bound onto its own options.</summary>
    public LatencyControllerOptions Latency { get; set; } = new();
    public CostControlOptions Cost { get; set; } = new();
    /// <summary>Canary trials of control changes (section <c>Moe:Control:Canary</c>): canary ranks, intervals, the noise rule.</summary>
    public CanaryOptions Canary { get; set; } = new();

    public GuardrailOptions Guardrails(bool dryRun) =>
        new() { MaxChangesPerInterval = MaxChangesPerInterval, HysteresisRatio = HysteresisRatio, DryRun = dryRun };

    /// <summary>The cost controller's prices: memory per GB-hour from <c>Moe:Telemetry:Costs</c> where set there (one price list), the rest from here.</summary>
    public CostControllerOptions CostController(CostRates rates)
    {
        ArgumentNullException.ThrowIfNull(rates);
        var model = new CostModel
        {
            DollarsPerFetchedGb = Cost.DollarsPerFetchedGb,
            DollarsPerStallSecond = Cost.DollarsPerStallSecond,
        };
        if (rates.HotUsdPerGbHour > 0) model = model with { HotDollarsPerGbHour = rates.HotUsdPerGbHour };
        if (rates.WarmUsdPerGbHour > 0) model = model with { WarmDollarsPerGbHour = rates.WarmUsdPerGbHour };
        return new CostControllerOptions { Model = model, DemoteMargin = Cost.DemoteMargin, DemandHalfLifeIntervals = Latency.DemandHalfLifeIntervals };
    }
}

/// <summary>The cost controller (section <c>Moe:Control:Cost</c>); memory prices come from <c>Moe:Telemetry:Costs</c> when set.</summary>
public sealed class CostControlOptions
{
    /// <summary>False runs the latency controller alone.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>How much cheaper the lower tier must be before an expert is demoted (0.1 = 10 %).</summary>
    public double DemoteMargin { get; set; } = 0.1;
    public double DollarsPerFetchedGb { get; set; } = 0.001;
    /// <summary>Dollars per second the device waits on a fetch: prices a miss's latency.</summary>
    public double DollarsPerStallSecond { get; set; } = 0.0006;
}
