using Orleans.Placement;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Placement;

/// <summary>Places an expert grain on the rank that owns it (see <see cref="Serving.Placement.ExpertOwnership"/>).</summary>
[GenerateSerializer, Immutable, Alias("moe.ExpertPlacement")]
public sealed class ExpertPlacement : PlacementStrategy
{
    public static ExpertPlacement Instance { get; } = new();
}

[AttributeUsage(AttributeTargets.Class)]
public sealed class ExpertPlacementAttribute() : PlacementAttribute(ExpertPlacement.Instance);

/// <summary>Places a grain keyed <c>model/rank</c> on that rank, and nowhere else.</summary>
[GenerateSerializer, Immutable, Alias("moe.RankPlacement")]
public sealed class RankPlacement : PlacementStrategy
{
    public static RankPlacement Instance { get; } = new();
}

[AttributeUsage(AttributeTargets.Class)]
public sealed class RankPlacementAttribute() : PlacementAttribute(RankPlacement.Instance);
