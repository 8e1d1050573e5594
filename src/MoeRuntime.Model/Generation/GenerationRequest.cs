using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Model.Generation;

/// <summary>A prompt, already tokenized, and how to continue it.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokens, SamplingOptions Options)
{
    /// <summary>Keep every step's logits in the result (for comparisons against the reference).</summary>
    public bool CaptureLogits { get; init; }

    /// <summary>
    /// Report each sampled token's log-probability and this many most likely alternatives (0: only the sampled
    /// token's); null reports none. See <see cref="TokenLogprobs"/>.
    /// </summary>
    public int? TopLogprobs { get; init; }

    /// <summary>
    /// When set, the batcher decodes the sequence's tokens through it (their text travels in <see cref="StreamedToken.Text"/>)
    /// and finishes the sequence with <see cref="FinishReason.Stop"/> at the token whose text completes a stop string.
    /// </summary>
    public ITextStopCondition? TextStop { get; init; }

    /// <summary>A hash of the request's id: identifies its tokens in routing digests without revealing the id.</summary>
    public ulong RequestKey { get; init; }
}
