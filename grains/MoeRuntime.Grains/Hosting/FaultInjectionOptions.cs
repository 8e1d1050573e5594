namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// Faults a rank injects into itself, for load tests only (section <c>Moe:FaultInjection</c>); every one is off by default
/// and a rank with one on logs a warning at start. Read at start-up; a change waits for a restart.
/// </summary>
public sealed class FaultInjectionOptions
{
    /// <summary>Longest delay a fault may add: long enough for any test, short of any default call timeout.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A slow rank: every call to compute on one of this rank's pinned replicas (the placement map's <c>model/L/E@rank</c>
    /// grains; not the experts' default grains) waits this long first. Zero (the default) adds nothing. The canary
    /// scenario's placement trial uses it to make a plan that routes rows to this rank measurably harmful.
    /// </summary>
    public TimeSpan PinnedReplicaDelay { get; set; } = TimeSpan.Zero;
}
