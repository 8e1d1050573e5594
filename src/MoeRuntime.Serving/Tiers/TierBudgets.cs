namespace MoeRuntime.Serving.Tiers;

/// <summary>The most bytes a rank may hold for one model in the hot tier (compute device) and the warm tier (host memory).</summary>
public sealed record TierBudgets(long HotBytes, long WarmBytes)
{
    public long HotBytes { get; } = HotBytes >= 0 ? HotBytes : throw new ArgumentOutOfRangeException(nameof(HotBytes), HotBytes, "a budget cannot be negative");
    public long WarmBytes { get; } = WarmBytes >= 0 ? WarmBytes : throw new ArgumentOutOfRangeException(nameof(WarmBytes), WarmBytes, "a budget cannot be negative");
}
