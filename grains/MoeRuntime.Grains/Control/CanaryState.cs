namespace MoeRuntime.Grains.Control;

/// <summary>What the canary grain keeps in <see cref="Hosting.ControlStorage"/>: the trial under way (so a moved grain still ends it) and the newest ended trials.</summary>
[GenerateSerializer, Alias("moe.CanaryState")]
public sealed class CanaryState
{
    [Id(0)] public CanaryTrialState? Trial { get; set; }
    /// <summary>Ended trials, newest first.</summary>
    [Id(1)] public List<CanaryTrialView> Recent { get; set; } = [];
    [Id(2)] public long NextId { get; set; } = 1;
}

/// <summary>A trial under way: its view, each canary rank as it was before the change, and every interval's samples.</summary>
[GenerateSerializer, Alias("moe.CanaryTrialState")]
public sealed class CanaryTrialState
{
    [Id(0)] public required CanaryTrialView View { get; set; }
    [Id(1)] public List<CanaryRankBefore> Before { get; set; } = [];
    [Id(2)] public List<CanaryRankSample[]> Intervals { get; set; } = [];
    /// <summary>A placement trial's experts as they were before it (an empty list: the default placement).</summary>
    [Id(3)] public Dictionary<string, int[]> PlacementBefore { get; set; } = [];
}

/// <summary>A canary rank before the change: the tiers of the experts it moved and its hot ceiling, and the version the change wrote.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryRankBefore")]
public sealed record CanaryRankBefore
{
    [Id(0)] public int Rank { get; init; }
    [Id(1)] public Dictionary<string, string> Tiers { get; init; } = [];
    [Id(2)] public long HotCeilingBytes { get; init; }
    [Id(3)] public long WrittenVersion { get; init; }
    /// <summary>The rank's hot limit before a plan that wrote one (restored with the tiers); null when the change wrote none.</summary>
    [Id(4)] public long? HotLimitBytes { get; init; }
}

/// <summary>One rank's figures of one interval, by metric name.</summary>
[GenerateSerializer, Immutable, Alias("moe.CanaryRankSample")]
public sealed record CanaryRankSample
{
    [Id(0)] public int Rank { get; init; }
    [Id(1)] public Dictionary<string, double> Values { get; init; } = [];
}
