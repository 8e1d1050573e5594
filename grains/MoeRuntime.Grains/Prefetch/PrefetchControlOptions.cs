using MoeRuntime.Control.Prefetch;

namespace MoeRuntime.Grains.Prefetch;

/// <summary>The prefetch controller (section <c>Moe:Control:Prefetch</c>) and its policy's bounds.</summary>
public sealed class PrefetchControlOptions
{
    public const string Section = "Moe:Control:Prefetch";

    /// <summary>Whether the timer tunes the settings; operators can still set them and run a tick by hand.</summary>
    public bool Enabled { get; set; } = true;
    /// <summary>Only propose: decisions are recorded as proposed and the settings stay as they are.</summary>
    public bool DryRun { get; set; }
    /// <summary>How often the controller reads the ranks' prefetch effectiveness and decides.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>How often a router checks the controller for a new settings version (one call, only when due, never awaited by a step).</summary>
    public TimeSpan SettingsRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How long a tick waits for one rank's stats before leaving it out of the interval.</summary>
    public TimeSpan RankTimeout { get; set; } = TimeSpan.FromSeconds(2);

    // PrefetchControllerOptions, flattened so that configuration binds them.
    public int MaxLookahead { get; set; } = Defaults.MaxLookahead;
    public double MinThreshold { get; set; } = Defaults.MinThreshold;
    public double MaxThreshold { get; set; } = Defaults.MaxThreshold;
    public double ThresholdStep { get; set; } = Defaults.ThresholdStep;
    public double HighWasteShare { get; set; } = Defaults.HighWasteShare;
    public double LowWasteShare { get; set; } = Defaults.LowWasteShare;
    public double HighFailureShare { get; set; } = Defaults.HighFailureShare;
    public double HighStallShare { get; set; } = Defaults.HighStallShare;

    static readonly PrefetchControllerOptions Defaults = new();

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public PrefetchControllerOptions ToControllerOptions()
    {
        if (!(Interval > TimeSpan.Zero)) throw new ArgumentException($"{Section}:Interval must be positive, was {Interval}", nameof(Interval));
        if (!(SettingsRefreshInterval > TimeSpan.Zero)) throw new ArgumentException($"{Section}:SettingsRefreshInterval must be positive, was {SettingsRefreshInterval}", nameof(SettingsRefreshInterval));
        if (!(RankTimeout > TimeSpan.Zero)) throw new ArgumentException($"{Section}:RankTimeout must be positive, was {RankTimeout}", nameof(RankTimeout));
        var options = new PrefetchControllerOptions
        {
            MaxLookahead = MaxLookahead,
            MinThreshold = MinThreshold,
            MaxThreshold = MaxThreshold,
            ThresholdStep = ThresholdStep,
            HighWasteShare = HighWasteShare,
            LowWasteShare = LowWasteShare,
            HighFailureShare = HighFailureShare,
            HighStallShare = HighStallShare,
        };
        options.Validate();
        return options;
    }
}
