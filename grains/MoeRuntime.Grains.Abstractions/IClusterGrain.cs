namespace MoeRuntime.Grains;

/// <summary>The cluster as operators see it: ranks, their silos and models, and where each expert lives.</summary>
public interface IClusterGrain : IGrainWithIntegerKey
{
    Task<RankInfo[]> GetRanksAsync();

    /// <summary>Expert key to the rank that owns it under the current membership.</summary>
    Task<Dictionary<string, int>> GetOwnershipAsync(string model);
}

/// <summary>One rank (silo) of the cluster.</summary>
[GenerateSerializer, Immutable, Alias("moe.RankInfo")]
public sealed record RankInfo
{
    [Id(0)] public int Rank { get; init; }
    [Id(1)] public required string Silo { get; init; }
    [Id(2)] public required string Status { get; init; }
    [Id(3)] public string? Model { get; init; }
}
