namespace MoeRuntime.Model.Layers;

/// <summary>
/// Which token each row of a step's batch is: its request's key and its position, so that ranks can
/// report routing digests for the same token and an aggregator can compare them.
/// </summary>
public sealed class DispatchRows(ulong[] requests, long[] positions)
{
    public static DispatchRows Empty { get; } = new([], []);

    public ReadOnlySpan<ulong> Requests => requests;
    public ReadOnlySpan<long> Positions => positions;
    public int Count => requests.Length;

    /// <summary>
    /// Where a dispatcher records rows whose expert failed, so that only their sequences fail; null when the caller cannot
    /// fail sequences one by one, and then a failed expert fails the step (the dispatcher throws).
    /// </summary>
    public StepFailures? Failures { get; init; }
}
