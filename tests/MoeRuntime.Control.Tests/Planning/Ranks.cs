using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Planning;

/// <summary>Builders for ranks, experts and inputs: by default every expert takes 400 hot bytes and 200 warm bytes.</summary>
static class Ranks
{
    public const string ModelName = "m";
    public const long HotBytes = 400, WarmBytes = 200;
    public static readonly DateTimeOffset Start = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    public static ExpertKey Key(int expert, int layer = 0) => new(ModelName, layer, expert);

    public static ExpertState Expert(int expert, Tier tier, long uses = 0, Tier? pinned = null, long hotBytes = HotBytes, long warmBytes = WarmBytes) =>
        new(Key(expert), tier, hotBytes, warmBytes, uses, pinned);

    /// <summary>Rank 0 with budgets for <paramref name="hotExperts"/> and <paramref name="warmExperts"/> default-sized experts.</summary>
    public static RankState Rank(int hotExperts, int warmExperts, params ExpertState[] experts) =>
        new(0, new TierBudgets(hotExperts * HotBytes, warmExperts * WarmBytes), experts);

    public static ControlInput Input(RankState rank, int interval = 0, ObservedLatency? latency = null, long tokens = 0,
        TierFetchStats? warm = null, TierFetchStats? cold = null, double sampleRatio = 1.0) =>
        new(Start + interval * Interval, Interval, rank, warm ?? TierFetchStats.None, cold ?? TierFetchStats.None,
            latency ?? ObservedLatency.None, tokens, sampleRatio);

    public static IReadOnlySet<ExpertKey> InTier(this RankState rank, Tier tier) =>
        rank.Experts.Where(e => e.Tier == tier).Select(e => e.Key).ToHashSet();
}
