namespace MoeRuntime.Grains;

/// <summary>
/// The entry point of inference clients, keyed by model name. Each rank runs one router activation
/// (a stateless worker local to the gateway the client reached), which batches every request it gets.
/// </summary>
public interface IRouterGrain : IGrainWithStringKey
{
    /// <summary>The whole answer once it is complete; a long answer may take minutes, so this call may too.</summary>
    [ResponseTimeout("00:10:00")]
    Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Tokens as they are sampled; cancelling the enumeration cancels the request. The silo answers each of the client's
    /// polls within half its response timeout (with a heartbeat if no token is ready), so the client's own response
    /// timeout bounds how long it waits on a silo that has gone.
    /// </summary>
    IAsyncEnumerable<TokenChunk> StreamAsync(GenerateRequest request, CancellationToken cancellationToken = default);

    Task<RouterStatus> GetStatusAsync();
}

/// <summary>What one rank's router is doing.</summary>
[GenerateSerializer, Immutable, Alias("moe.RouterStatus")]
public sealed record RouterStatus
{
    [Id(0)] public int Rank { get; init; }
    [Id(1)] public int QueueDepth { get; init; }
    [Id(2)] public int ActiveSequences { get; init; }
    [Id(3)] public long ExpertCalls { get; init; }
    [Id(4)] public long BytesSent { get; init; }
    [Id(5)] public long BytesReceived { get; init; }
    [Id(6)] public double ExpertCallSeconds { get; init; }
    [Id(7)] public long PrefetchHints { get; init; }
    /// <summary>Layer-steps cost-adaptive routing biased (0 while it is off).</summary>
    [Id(8)] public long CostAwareRoutingApplied { get; init; }
    /// <summary>Layer-steps its quality guard kept unbiased because the bias would change too many top-k choices.</summary>
    [Id(9)] public long CostAwareRoutingRefused { get; init; }
}
