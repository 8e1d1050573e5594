using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Loop;

/// <summary>One expert registered on a rank: the tier its TierSet assigns and what it takes in the hot and warm tiers.</summary>
public sealed record ExpertHolding(ExpertKey Key, Tier Assigned, long HotBytes, long WarmBytes);
