namespace MoeRuntime.Grains;

/// <summary>
/// One rank's experts behind one grain, keyed <c>model/rank</c> and placed on that rank: a router sends it, per layer, every
/// row it routes to the experts that rank owns, in one message, instead of one call per expert.
/// </summary>
public interface IRankExpertsGrain : IGrainWithStringKey
{
    /// <summary>
    /// Runs each listed expert of one layer on its rows and answers every expert: its outputs, or its own fault (a
    /// quarantined copy: NaN or infinity, a failed integrity check), which does not fail the other experts of the call.
    /// </summary>
    Task<RankExpertsAnswer> ComputeAsync(RankExpertsCall call, CancellationToken cancellationToken = default);
}

/// <summary>
/// The rows of one layer for one rank's experts: <see cref="Rows"/> holds each expert's rows back to back, in the order of
/// <see cref="Experts"/>, <see cref="RowCounts"/> rows each; <see cref="Checks"/>, when set, the rows of each expert whose
/// routing the rank re-checks (indices within that expert's rows).
/// </summary>
[GenerateSerializer, Immutable, Alias("moe.RankExpertsCall")]
public sealed record RankExpertsCall(
    [property: Id(0)] int Layer,
    [property: Id(1)] int[] Experts,
    [property: Id(2)] int[] RowCounts,
    [property: Id(3)] TensorPayload Rows,
    [property: Id(4)] RoutingCheck?[]? Checks = null);

/// <summary>
/// A rank's answer to <see cref="RankExpertsCall"/>: the outputs in the call's layout (an expert that failed has zeros in
/// its rows) and, when any expert failed, its fault at its index in <see cref="Faults"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("moe.RankExpertsAnswer")]
public sealed record RankExpertsAnswer([property: Id(0)] TensorPayload Rows, [property: Id(1)] ExpertFault?[]? Faults = null);

/// <summary>The fault one expert of a rank call reported (see <see cref="MoeErrorCode"/>).</summary>
[GenerateSerializer, Immutable, Alias("moe.ExpertFault")]
public sealed record ExpertFault([property: Id(0)] MoeErrorCode Code, [property: Id(1)] string Message);
