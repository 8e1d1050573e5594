namespace MoeRuntime.Control.Prefetch;

/// <summary>One interval of prefetch effectiveness and the settings it ran with.</summary>
/// <param name="At">When the interval ended; the decision is stamped with it.</param>
/// <param name="Interval">How long the interval was; stalls are judged as a share of it.</param>
public sealed record PrefetchInput(DateTimeOffset At, TimeSpan Interval, PrefetchSettings Current, IReadOnlyList<PrefetchLayerStats> Layers);
