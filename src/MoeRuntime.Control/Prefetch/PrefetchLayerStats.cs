namespace MoeRuntime.Control.Prefetch;

/// <summary>How prefetching into one layer did during an interval.</summary>
/// <param name="Issued">Prefetches issued for the layer's experts.</param>
/// <param name="UsedBytes">Bytes prefetched and used before eviction.</param>
/// <param name="WastedBytes">Bytes prefetched and evicted unused.</param>
/// <param name="Failures">Prefetches that failed (read or integrity errors, timeouts).</param>
/// <param name="StallSeconds">Time the layer's expert calls waited on a fetch that prefetching did not cover.</param>
public sealed record PrefetchLayerStats(int Layer, long Issued, double UsedBytes, double WastedBytes, long Failures, double StallSeconds)
{
    /// <summary>Wasted over prefetched bytes; 0 when nothing was prefetched.</summary>
    public double WasteShare => UsedBytes + WastedBytes > 0 ? WastedBytes / (UsedBytes + WastedBytes) : 0;

    /// <summary>Failed over issued prefetches; 0 when none was issued.</summary>
    public double FailureShare => Issued > 0 ? Failures / (double)Issued : 0;
}
