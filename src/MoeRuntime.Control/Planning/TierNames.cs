using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Planning;

/// <summary>Tiers as decision records and TierSets spell them: hot, warm, cold.</summary>
static class TierNames
{
    public static string Lower(this Tier tier) => tier switch
    {
        Tier.Hot => "hot",
        Tier.Warm => "warm",
        _ => "cold",
    };
}
