using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>
/// One expert of a rank as a controller sees it for one interval: where it sits, what it takes in each tier,
/// whether an operator pinned it, and how often the rank used it.
/// </summary>
/// <param name="Tier">The tier the rank's current TierSet assigns it.</param>
/// <param name="HotBytes">Bytes it takes in the hot tier (float32 tensors on the device).</param>
/// <param name="WarmBytes">Bytes it takes in the warm tier (raw checkpoint bytes in host memory).</param>
/// <param name="Uses">Calls the rank made to it during the interval (hits and misses alike).</param>
/// <param name="Pinned">The tier an operator pinned it to; controllers never move a pinned expert.</param>
public sealed record ExpertState(ExpertKey Key, Tier Tier, long HotBytes, long WarmBytes, long Uses, Tier? Pinned = null)
{
    /// <summary>Bytes it takes in <paramref name="tier"/>; cold costs no memory.</summary>
    public long Bytes(Tier tier) => tier switch
    {
        Tier.Hot => HotBytes,
        Tier.Warm => WarmBytes,
        _ => 0,
    };
}
