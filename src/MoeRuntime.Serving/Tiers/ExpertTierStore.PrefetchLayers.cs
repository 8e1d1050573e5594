namespace MoeRuntime.Serving.Tiers;

// Per-layer prefetch accounting, for the prefetch controller.
public sealed partial class ExpertTierStore
{
    PrefetchLayerCounters? _prefetchLayers;

    /// <summary>Created once, on first use, sized to the model's layers.</summary>
    PrefetchLayerCounters PrefetchLayers =>
        Volatile.Read(ref _prefetchLayers)
        ?? Interlocked.CompareExchange(ref _prefetchLayers, new PrefetchLayerCounters(_checkpoint.Config.LayerCount), null)
        ?? _prefetchLayers!;

    /// <summary>Identifies this store's per-layer counters; a new value means they started again from zero.</summary>
    public Guid PrefetchEpoch => PrefetchLayers.Epoch;

    /// <summary>Prefetch effectiveness per layer since the store was created (cumulative), indexed by layer.</summary>
    public PrefetchLayerCounts[] PrefetchByLayer() => PrefetchLayers.Read();
}
