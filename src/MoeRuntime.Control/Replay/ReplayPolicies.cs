namespace MoeRuntime.Control.Replay;

/// <summary>
/// The policies <c>moe replay</c> compares, by name. The controllers' policy plugs in here: a
/// <c>ControllerReplayPolicy</c> that, in <see cref="IReplayPolicy.IntervalEnded"/>, feeds the latency
/// controller the interval's per-expert use (<see cref="ReplayInterval.Accesses"/>/<see cref="ReplayInterval.Tokens"/>)
/// and applies its tier plan through the <see cref="HotSetEditor"/> (demote, then promote), choosing
/// demand victims outside the plan's hot experts in between.
/// </summary>
public static class ReplayPolicies
{
    public const string Lru = "lru", Lfu = "lfu", Belady = "belady", Controller = "controller";

    /// <summary>Policies available in this build, in table order.</summary>
    public static IReadOnlyList<string> Available { get; } = [Lru, Lfu, Belady];

    /// <summary>Every policy the issue names; those not in <see cref="Available"/> are reported as missing.</summary>
    public static IReadOnlyList<string> Known { get; } = [Lru, Lfu, Controller, Belady];

    public static IReplayPolicy Create(string name) => name.ToLowerInvariant() switch
    {
        Lru => new LruPolicy(),
        Lfu => new LfuPolicy(),
        Belady => new BeladyPolicy(),
        Controller => throw new NotSupportedException("the controllers' policy is not in this build yet (the latency controller has not landed)"),
        _ => throw new ArgumentException($"unknown policy '{name}'; known: {string.Join(", ", Known)}"),
    };
}
