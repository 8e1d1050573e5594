using MoeRuntime.Grains.Hosting;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Tiers;

/// <summary>
/// The tiers the rank's current TierSet names, shared by the TierSet grain (which writes them) and
/// expert grains (which register their expert in its tier when they activate).
/// </summary>
public sealed class RankTierPolicy(ModelHost host)
{
    volatile IReadOnlyDictionary<ExpertKey, Tier> _named = new Dictionary<ExpertKey, Tier>();

    public Tier TierFor(ExpertKey key) => _named.TryGetValue(key, out Tier tier) ? tier : host.DefaultTier;

    public IReadOnlyDictionary<ExpertKey, Tier> Named => _named;

    public void Set(IReadOnlyDictionary<ExpertKey, Tier> named) => _named = named;
}
