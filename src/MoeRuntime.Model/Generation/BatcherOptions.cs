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
    /// <summary>
    /// Bytes the running sequences' KV caches may hold together. A request is admitted to the batch only when the bytes
    /// its cache can come to hold (<see cref="SequenceState.KvBytesNeeded"/>) fit beside those of the running ones, else it
    /// waits; one that could not fit even alone is refused at submission.
    /// </summary>
    public long KvCacheBudgetBytes { get; init; } = long.MaxValue;
    /// <summary>How long the loop waits before its first restart after an unexpected failure; doubles with each failure in a row.</summary>
    public TimeSpan RestartDelay { get; init; } = TimeSpan.FromMilliseconds(100);
    /// <summary>The longest wait between restarts, however many failures came in a row.</summary>
    public TimeSpan MaxRestartDelay { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// Where the loop runs. Null (the default): on the thread pool, as any async code. A CPU list (even empty): on a
    /// thread of its own (<see cref="Threading.LoopThread"/>), pinned to those CPUs unless the list is empty. With a core
    /// of its own, the loop's forward passes keep that core's caches and do not share it with the rank's messaging.
    /// </summary>
    public IReadOnlyList<int>? LoopCpus { get; init; }
    /// <summary>Micro-batch overlap of each step (see <see cref="Layers.OverlapOptions"/>); the default runs steps unsplit.</summary>
    public Layers.OverlapOptions Overlap { get; init; } = new();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first limit out of range.</summary>
    public void Validate()
    {
        if (MaxQueuedRequests < 1) throw new ArgumentException($"MaxQueuedRequests must be at least 1 (is {MaxQueuedRequests})");
        if (MaxBatchSequences < 1) throw new ArgumentException($"MaxBatchSequences must be at least 1 (is {MaxBatchSequences})");
        if (MaxBatchTokens < 1) throw new ArgumentException($"MaxBatchTokens must be at least 1 (is {MaxBatchTokens})");
        if (KvCacheBudgetBytes < 1) throw new ArgumentException($"KvCacheBudgetBytes must be at least 1 (is {KvCacheBudgetBytes})");
        if (RestartDelay <= TimeSpan.Zero) throw new ArgumentException($"RestartDelay must be positive (is {RestartDelay})");
        if (MaxRestartDelay < RestartDelay)
            throw new ArgumentException($"MaxRestartDelay ({MaxRestartDelay}) must be at least RestartDelay ({RestartDelay})");
        ArgumentNullException.ThrowIfNull(Overlap);
        Overlap.Validate();
    }

    /// <summary>The wait before restarting after <paramref name="faultsInARow"/> failures in a row (1 or more).</summary>
    public TimeSpan RestartDelayAfter(int faultsInARow)
    {
        double factor = Math.Pow(2, Math.Min(Math.Max(faultsInARow, 1) - 1, 30));
        double ticks = Math.Min(RestartDelay.Ticks * factor, MaxRestartDelay.Ticks);
        return TimeSpan.FromTicks((long)ticks);
    }
}
