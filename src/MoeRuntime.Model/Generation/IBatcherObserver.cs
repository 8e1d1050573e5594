namespace MoeRuntime.Model.Generation;

/// <summary>
/// What the batching loop reports about itself, for telemetry. Called on the loop, once per admitted
/// request and once per step: implementations must be cheap and must not throw.
/// </summary>
public interface IBatcherObserver
{
    void Admitted(TimeSpan queueWait);

    /// <summary>Time one layer spent before its experts (norms, attention, gate) for a step of <paramref name="tokens"/> tokens.</summary>
    void AttentionComputed(int layer, TimeSpan elapsed, int tokens);

    /// <summary>The same time as <see cref="AttentionComputed"/> split: attention with its norms, then the gate with any shared expert.</summary>
    void LayerPhases(int layer, TimeSpan attention, TimeSpan gate)
    {
    }

    /// <param name="sequences">Sequences in the step's batch.</param>
    /// <param name="prefills">Of those, sequences whose prompt was prefilled in this step.</param>
    /// <param name="newTokens">Tokens fed through the model.</param>
    /// <param name="cachedPositions">Positions attention read from the KV cache instead of computing.</param>
    /// <param name="forward">Time of the forward pass, experts included.</param>
    /// <param name="sampling">Time the samplers took.</param>
    /// <param name="kvCacheBytes">Bytes the running sequences' caches hold after the step.</param>
    /// <param name="longestContext">The longest context of the step's sequences: cached positions plus the step's new tokens.</param>
    void StepCompleted(int sequences, int prefills, int newTokens, long cachedPositions, TimeSpan forward, TimeSpan sampling, long kvCacheBytes,
        int longestContext);
}
