namespace MoeRuntime.Control.Planning;

/// <summary>
/// What the rank's transient copies earned in one interval: calls that found an expert hot although the TierSet did
/// not assign it hot (a copy brought hot by an earlier call and not yet evicted), and the hot bytes such copies had —
/// the hot limit less the bytes assigned hot. The latency controller compares an assigned expert's demand with what
/// a slot of transient copies earns (the transient-yield rule).
/// </summary>
/// <param name="Hits">Calls during the interval served by a transient copy.</param>
/// <param name="RoomBytes">Hot bytes left to transient copies during the interval (0: none, the rule learns nothing).</param>
public sealed record TransientUse(long Hits, long RoomBytes)
{
    /// <summary>Hits per hot byte of transient room; null when there was no room.</summary>
    public double? HitsPerByte => RoomBytes > 0 ? (double)Math.Max(0, Hits) / RoomBytes : null;
}
