namespace MoeRuntime.Model.Layers;

/// <summary>
/// One sequence's part of a forward pass: new tokens to append to its cache (a whole prompt at prefill,
/// one token per decode step), and the key of the request it belongs to (for routing digests).
/// </summary>
public readonly record struct SequenceStep(KvCache Cache, ReadOnlyMemory<int> Tokens, ulong RequestKey = 0);
