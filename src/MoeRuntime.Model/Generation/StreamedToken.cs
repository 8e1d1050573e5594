namespace MoeRuntime.Model.Generation;

/// <summary>
/// One sampled token of a streamed request, with its logits and its log-probabilities when the request asked for them.
/// <paramref name="Text"/> is the text it adds when the request decodes in the batcher (<see cref="GenerationRequest.TextStop"/>),
/// else null; <paramref name="Finished"/> says why the sequence ends when this token is its last.
/// </summary>
public readonly record struct StreamedToken(int Id, int Index, float[]? Logits, TokenLogprobs? Logprobs = null, string? Text = null,
    FinishReason? Finished = null);
