namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// One version of a rank's assignment of a model's experts to tiers, with the budgets the tiers must stay within.
/// Experts the assignment does not name are cold.
/// </summary>
public sealed record TierSet(
    string Model, int Rank, long Version, IReadOnlyDictionary<ExpertKey, Tier> Assignment, TierBudgets Budgets, TierSetChange Change)
{
    /// <summary>Checks that the experts assigned hot, and those assigned warm, fit their budgets.</summary>
    /// <param name="sizes">Bytes one expert takes in the hot tier and in the warm tier.</param>
    /// <exception cref="ArgumentException">A tier's assigned bytes exceed its budget; the message names both numbers.</exception>
    public void Validate(Func<ExpertKey, (long HotBytes, long WarmBytes)> sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        long hot = 0, warm = 0;
        foreach (var (key, tier) in Assignment)
        {
            if (key.Model != Model)
                throw new ArgumentException($"TierSet {Describe()} assigns expert {key}, which belongs to another model");
            if (tier == Tier.Hot) hot += sizes(key).HotBytes;
            else if (tier == Tier.Warm) warm += sizes(key).WarmBytes;
        }
        if (hot > Budgets.HotBytes)
            throw new ArgumentException($"TierSet {Describe()} assigns {hot} bytes to the hot tier, over its hot budget of {Budgets.HotBytes} bytes");
        if (warm > Budgets.WarmBytes)
            throw new ArgumentException($"TierSet {Describe()} assigns {warm} bytes to the warm tier, over its warm budget of {Budgets.WarmBytes} bytes");
    }

    /// <summary>Model, rank and version, as messages and logs name a TierSet.</summary>
    public string Describe() => $"{Model} rank {Rank} v{Version}";
}
