namespace MoeRuntime.Grains.Prefetch;

/// <summary>
/// The prefetch controller's loop (section <c>Moe:Control:Prefetch</c>). The policy's bounds in the same section bind
/// straight onto <see cref="MoeRuntime.Control.Prefetch.PrefetchControllerOptions"/>; both are checked at start-up.
/// </summary>
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
}
