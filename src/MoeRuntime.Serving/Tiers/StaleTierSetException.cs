namespace MoeRuntime.Serving.Tiers;

/// <summary>A TierSet whose version is not newer than the one already applied; redelivered or reordered updates end here.</summary>
public sealed class StaleTierSetException(long version, long appliedVersion)
    : InvalidOperationException($"TierSet version {version} is stale: version {appliedVersion} is already applied")
{
    public long Version { get; } = version;
    public long AppliedVersion { get; } = appliedVersion;
}
