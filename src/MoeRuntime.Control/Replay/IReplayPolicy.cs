namespace MoeRuntime.Control.Replay;

/// <summary>Why an expert became hot.</summary>
public enum InsertReason
{
    /// <summary>It was needed and not hot (a miss).</summary>
    Demand,
    /// <summary>The simulated pre-gating predicted it for the next layer.</summary>
    Prefetch,
    /// <summary>The policy promoted it at an interval boundary.</summary>
    Planned,
}

/// <summary>What a policy is told before a replay starts.</summary>
/// <param name="Trace">The whole trace. Online policies must not look ahead in it; offline bounds (Belady) do.</param>
/// <param name="CapacityPerLayer">Experts each layer's hot set holds.</param>
/// <param name="IntervalSteps">Steps between <see cref="IReplayPolicy.IntervalEnded"/> calls.</param>
public sealed record ReplaySetup(ReplayTrace Trace, int CapacityPerLayer, long ExpertBytes, int IntervalSteps);

/// <summary>
/// Per-expert use in one interval of <see cref="Steps"/> steps: the input of interval-driven controllers.
/// Index layer * experts + expert.
/// </summary>
/// <param name="Accesses">Steps in the interval that needed the expert at that layer.</param>
/// <param name="Tokens">Tokens routed to it.</param>
public sealed record ReplayInterval(int Index, int FirstStep, int Steps, int Layers, int Experts, int[] Accesses, int[] Tokens, int CapacityPerLayer);

/// <summary>
/// A tier policy under replay. The simulator owns the hot sets and the accounting; the policy is told
/// what happens (per-layer time is the index of the access in that layer's access sequence; an
/// insertion outside a demand access happens at the index of the next access) and chooses victims.
/// At every interval boundary it may promote and demote experts itself, as a tier controller would.
/// </summary>
public interface IReplayPolicy
{
    string Name { get; }

    void Start(ReplaySetup setup);

    /// <summary><paramref name="expert"/> became hot at <paramref name="layer"/>.</summary>
    void Inserted(int layer, int expert, long time, InsertReason reason);

    /// <summary>A demand access; the expert is hot by now (<paramref name="hit"/> says whether it already was).</summary>
    void Accessed(int layer, int expert, long time, bool hit);

    /// <summary>
    /// The layer's hot set is full and something must go: one of <paramref name="candidates"/> (hot experts
    /// not about to be used in the current step and layer, unless every hot expert is).
    /// </summary>
    int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time);

    void Evicted(int layer, int expert);

    /// <summary>Every <see cref="ReplaySetup.IntervalSteps"/> steps: the interval's use, and the hot sets to change if the policy plans.</summary>
    void IntervalEnded(ReplayInterval interval, HotSetEditor hot);
}

/// <summary>A policy with nothing to do on the hooks it does not override.</summary>
public abstract class ReplayPolicy : IReplayPolicy
{
    public abstract string Name { get; }
    protected ReplaySetup Setup { get; private set; } = null!;
    protected int Experts => Setup.Trace.Experts;

    public virtual void Start(ReplaySetup setup) => Setup = setup;
    public virtual void Inserted(int layer, int expert, long time, InsertReason reason) { }
    public virtual void Accessed(int layer, int expert, long time, bool hit) { }
    public abstract int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time);
    public virtual void Evicted(int layer, int expert) { }
    public virtual void IntervalEnded(ReplayInterval interval, HotSetEditor hot) { }
}
