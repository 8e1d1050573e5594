namespace MoeRuntime.Control.Replay;

/// <summary>
/// The policies <c>moe replay</c> compares, by name: LRU, LFU, the controllers' policy
/// (<see cref="ControllerReplayPolicy"/>: the latency controller and the guardrails, per interval) and Belady's optimum.
/// </summary>
public static class ReplayPolicies
{
    public const string Lru = "lru", Lfu = "lfu", DecayedLfu = "dlfu", Belady = "belady", Controller = "controller";

    /// <summary>Policies available in this build, in table order.</summary>
    public static IReadOnlyList<string> Available { get; } = [Lru, Lfu, DecayedLfu, Controller, Belady];

    /// <summary>Every policy the issue names; those not in <see cref="Available"/> are reported as missing.</summary>
    public static IReadOnlyList<string> Known { get; } = [Lru, Lfu, DecayedLfu, Controller, Belady];

    /// <param name="controller">Options of the controllers' policy; null for its defaults.</param>
    public static IReplayPolicy Create(string name, ControllerReplayOptions? controller = null) => name.ToLowerInvariant() switch
    {
        Lru => new LruPolicy(),
        Lfu => new LfuPolicy(),
        DecayedLfu => new DecayedLfuPolicy(),
        Belady => new BeladyPolicy(),
        Controller => new ControllerReplayPolicy(controller),
        _ => throw new ArgumentException($"unknown policy '{name}'; known: {string.Join(", ", Known)}"),
    };
}
