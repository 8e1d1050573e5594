using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace MoeRuntime.Grains.Placement;

/// <summary>
/// Maps silos to ranks through the silo metadata each rank publishes (<see cref="MetadataKey"/>).
/// Orleans' role-based placement keys on the entry assembly, which every rank shares, so ranks carry
/// their number in metadata instead.
/// </summary>
public sealed class RankDirectory(ISiloMetadataCache metadata, IClusterMembershipService membership)
{
    public const string MetadataKey = "moe-rank";

    public int? RankOf(SiloAddress silo) =>
        metadata.GetSiloMetadata(silo).Metadata.TryGetValue(MetadataKey, out string? value) && int.TryParse(value, out int rank)
            ? rank
            : null;

    /// <summary>The candidates that have published a rank, with that rank.</summary>
    public Dictionary<int, SiloAddress> Ranked(IEnumerable<SiloAddress> candidates)
    {
        var ranked = new Dictionary<int, SiloAddress>();
        foreach (SiloAddress silo in candidates)
            if (RankOf(silo) is { } rank && (!ranked.TryGetValue(rank, out SiloAddress? other) || silo.Generation > other.Generation))
                ranked[rank] = silo;
        return ranked;
    }

    /// <summary>Every active silo of the cluster with its rank (null while its metadata is unknown).</summary>
    public IEnumerable<(SiloAddress Silo, SiloStatus Status, int? Rank)> Members() =>
        membership.CurrentSnapshot.Members.Values.Select(m => (m.SiloAddress, m.Status, RankOf(m.SiloAddress)));

    /// <summary>
    /// The ranks of the active silos that have published one, each once, in ascending order: the one answer every
    /// controller, the balancer, placement and the cluster grain use for "which ranks are live".
    /// </summary>
    public int[] LiveRanks() =>
        Members().Where(m => m.Status == SiloStatus.Active && m.Rank is not null).Select(m => m.Rank!.Value).Distinct().Order().ToArray();
}
