namespace MoeRuntime.Model.Generation;

/// <summary>Limits of continuous batching.</summary>
public sealed record BatcherOptions
{
    /// <summary>Requests that may wait for a place in the batch; one more is refused at once.</summary>
    public int MaxQueuedRequests { get; init; } = 256;
    /// <summary>Sequences decoded together in one step.</summary>
    public int MaxBatchSequences { get; init; } = 32;
    /// <summary>New tokens one step may carry, so a burst of long prompts does not stall running decodes.</summary>
    public int MaxBatchTokens { get; init; } = 2048;
}
