namespace MoeRuntime.Telemetry.Collection;

/// <summary>What one rank reported about routing one token at one layer.</summary>
/// <param name="RequestHash">Stable hash of the request id (<see cref="RoutingDigest.HashRequestId"/>); the id itself never leaves the rank.</param>
/// <param name="Layer">Decoder layer.</param>
/// <param name="TokenPosition">Position of the token in its sequence.</param>
/// <param name="Digest">The routing digest (<see cref="RoutingDigest.Compute"/>).</param>
public readonly record struct RoutingDigestRecord(ulong RequestHash, int Layer, int TokenPosition, ulong Digest);
