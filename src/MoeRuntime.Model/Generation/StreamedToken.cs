namespace MoeRuntime.Model.Generation;

/// <summary>
/// One sampled token of a streamed request, with its logits and its log-probabilities when the request asked for them.
/// </summary>
public readonly record struct StreamedToken(int Id, int Index, float[]? Logits, TokenLogprobs? Logprobs = null);
