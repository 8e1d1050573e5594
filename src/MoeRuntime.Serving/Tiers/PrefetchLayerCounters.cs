namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// Prefetch effectiveness per layer: Interlocked slots in one array allocated with the store, so recording costs
/// no lock and no allocation. Layers outside the model are ignored.
/// </summary>
sealed class PrefetchLayerCounters(int layers)
{
    const int Issued = 0, UsedBytes = 1, WastedBytes = 2, Failures = 3, StallTicks = 4, Slots = 5;
    readonly long[] _slots = new long[Math.Max(0, layers) * Slots];

    /// <summary>Tells one store's counters from another's (a restarted rank starts again from zero).</summary>
    public Guid Epoch { get; } = Guid.NewGuid();

    public int Layers => _slots.Length / Slots;

    public void PrefetchIssued(int layer) => Add(layer, Issued, 1);
    public void PrefetchUsed(int layer, long bytes) => Add(layer, UsedBytes, bytes);
    public void PrefetchWasted(int layer, long bytes) => Add(layer, WastedBytes, bytes);
    public void PrefetchFailed(int layer) => Add(layer, Failures, 1);
    public void Stalled(int layer, TimeSpan waited) => Add(layer, StallTicks, waited.Ticks);

    void Add(int layer, int slot, long value)
    {
        if ((uint)layer < (uint)Layers) Interlocked.Add(ref _slots[layer * Slots + slot], value);
    }

    public PrefetchLayerCounts[] Read()
    {
        var counts = new PrefetchLayerCounts[Layers];
        for (int layer = 0; layer < counts.Length; layer++)
        {
            int at = layer * Slots;
            counts[layer] = new PrefetchLayerCounts(
                layer,
                Interlocked.Read(ref _slots[at + Issued]),
                Interlocked.Read(ref _slots[at + UsedBytes]),
                Interlocked.Read(ref _slots[at + WastedBytes]),
                Interlocked.Read(ref _slots[at + Failures]),
                TimeSpan.FromTicks(Interlocked.Read(ref _slots[at + StallTicks])).TotalSeconds);
        }
        return counts;
    }
}

/// <summary>
/// One layer's prefetch effectiveness since the store was created: prefetches issued for its experts, bytes
/// prefetched and used or evicted unused, failed prefetches, and the time acquisitions of its experts waited on
/// fetches (misses) — what prefetching did not cover.
/// </summary>
public readonly record struct PrefetchLayerCounts(int Layer, long Issued, long UsedBytes, long WastedBytes, long Failures, double StallSeconds);
