namespace MoeRuntime.Control.Cost;

/// <summary>What cost-adaptive routing did to one batch of gate scores.</summary>
/// <param name="Applied">True when the biased scores were written; false when routing stayed unbiased.</param>
/// <param name="ChangedShare">Share of the batch's top-k choices the bias changed (0 when it was off).</param>
/// <param name="Reason">Why it was or was not applied.</param>
public readonly record struct RoutingBias(bool Applied, double ChangedShare, string Reason);
