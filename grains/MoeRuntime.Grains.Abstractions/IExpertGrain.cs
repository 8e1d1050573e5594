using Orleans.Concurrency;

namespace MoeRuntime.Grains;

/// <summary>
/// One expert of one layer: keyed <c>model/layer/expert</c> and activated on the rank that owns it, or keyed
/// <c>model/layer/expert@rank</c> for a replica pinned to that rank (see <see cref="IExpertPlacementGrain"/>).
/// </summary>
public interface IExpertGrain : IGrainWithStringKey
{
    /// <summary>
    /// Runs the expert on a batch of token rows [n, hidden] and returns [n, hidden]. With a
    /// <paramref name="check"/>, the expert's rank also re-runs the gate on the listed rows and reports
    /// routing digests, so an aggregator can compare them with the router's.
    /// </summary>
    Task<TensorPayload> ComputeAsync(TensorPayload tokens, RoutingCheck? check = null, CancellationToken cancellationToken = default);

    /// <summary>A hint that the expert will likely be needed soon; never blocks the caller.</summary>
    [OneWay]
    Task PrefetchAsync();

    Task<ExpertInfo> GetInfoAsync();
}

/// <summary>Rows of an expert call whose routing the expert's rank re-checks: row index, request key, position.</summary>
[GenerateSerializer, Immutable, Alias("moe.RoutingCheck")]
public sealed record RoutingCheck([property: Id(0)] int[] Rows, [property: Id(1)] ulong[] Requests, [property: Id(2)] long[] Positions);

/// <summary>Where an expert lives and how it is doing.</summary>
[GenerateSerializer, Immutable, Alias("moe.ExpertInfo")]
public sealed record ExpertInfo
{
    [Id(0)] public required string Key { get; init; }
    [Id(1)] public int Rank { get; init; }
    [Id(2)] public required string Tier { get; init; }
    [Id(3)] public long Calls { get; init; }
    [Id(4)] public long Tokens { get; init; }
    /// <summary>Set once the expert produced NaN or infinity; such an expert fails its calls.</summary>
    [Id(5)] public string? Flagged { get; init; }
}
