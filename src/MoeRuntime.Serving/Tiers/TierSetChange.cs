namespace MoeRuntime.Serving.Tiers;

/// <summary>Who made a TierSet version, when, and why: kept with the version for audit.</summary>
public sealed record TierSetChange(string ChangedBy, DateTimeOffset At, string Reason);
