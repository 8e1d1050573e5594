namespace MoeRuntime.Grains.Tiers;

/// <summary>
/// What a rank's TierSet grain keeps in <see cref="Hosting.ControlStorage"/>: its newest versions (at most
/// <see cref="TierSetGrain.KeptVersions"/>) for the audit trail, and what the newest named and the hot ceiling, to restore it.
/// </summary>
[GenerateSerializer, Alias("moe.TierSetState")]
public sealed class TierSetState
{
    [Id(0)] public List<TierSetView> Versions { get; set; } = [];
    /// <summary>The experts the newest version names, key → tier name; the others take the rank's default tier.</summary>
    [Id(1)] public Dictionary<string, string> Named { get; set; } = [];
    [Id(2)] public long HotCeilingBytes { get; set; }
}
