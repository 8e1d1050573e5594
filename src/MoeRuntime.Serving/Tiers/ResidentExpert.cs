using MoeRuntime.Model.Layers;

namespace MoeRuntime.Serving.Tiers;

/// <summary>What a store holds for one registered expert. Every mutable field is guarded by the store's lock.</summary>
sealed class ResidentExpert(ExpertTensors tensors, ExpertFingerprint fingerprint) : IHotHolding
{
    public ExpertTensors Tensors { get; } = tensors;
    public ExpertFingerprint Fingerprint { get; } = fingerprint;
    public ExpertKey Key => Tensors.Key;
    public long HotBytes { get; } = tensors.HotBytes;
    public long WarmBytes { get; } = tensors.WarmBytes;

    /// <summary>The tier the current TierSet (or the registration) gives the expert.</summary>
    public Tier Assigned = Tier.Cold;

    /// <summary>The hot copy: assigned hot, or transient (brought hot only to serve calls).</summary>
    public ExpertFfn? Hot;

    public byte[]? Warm;
    public int Leases;

    /// <summary>The fetch bringing the expert hot, shared by everyone who needs it meanwhile.</summary>
    public ExpertFetch? Fetch;

    /// <summary>Store clock at the last acquisition or installation; the smallest is evicted first.</summary>
    public long LastUsed;

    long IHotHolding.LastUsed => LastUsed;

    /// <summary>The hot copy came from a prefetch and no acquisition has used it yet.</summary>
    public bool PrefetchedUnused;

    /// <summary>Acquisitions since registration, hits and misses alike: what controllers rank demand by.</summary>
    public long Uses;

    /// <summary>A TierSet demoted the expert while leased: its hot copy goes when the last lease does.</summary>
    public bool DropWhenReleased;

    public bool IsTransientHot => Hot is not null && Assigned != Tier.Hot;
    public bool IsEvictable => IsTransientHot && Leases == 0;
}
