using MoeRuntime.Model.Layers;

namespace MoeRuntime.Serving.Tiers;

/// <summary>One expert being brought hot. Fields other than <see cref="Done"/> are guarded by the store's lock.</summary>
sealed class ExpertFetch(bool prefetch, EvictionKind evictions)
{
    public TaskCompletionSource<ExpertFfn> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public bool IsPrefetch { get; } = prefetch;

    /// <summary>How evictions that make room for this fetch are counted.</summary>
    public EvictionKind Evictions { get; } = evictions;

    /// <summary>Acquisitions that receive a lease when the expert is installed.</summary>
    public int LeaseWaiters;

    /// <summary>ApplyAsync calls waiting for the expert to become hot (they take no lease).</summary>
    public int PromotionWaiters;

    /// <summary>Hot bytes are reserved: from here on the fetch runs to the end.</summary>
    public bool Reserved;

    /// <summary>Everyone stopped waiting before room was found; the fetch gives up.</summary>
    public bool Abandoned;

    public bool Installed;

    /// <summary>Where the bytes came from; set before <see cref="Done"/> completes.</summary>
    public Tier Source = Tier.Cold;

    public bool IsWanted => LeaseWaiters > 0 || PromotionWaiters > 0 || IsPrefetch;
}

enum EvictionKind
{
    /// <summary>To make room for a fetch that serves a call or a prefetch.</summary>
    Forced,

    /// <summary>To carry out a TierSet or a registration.</summary>
    Planned,
}
