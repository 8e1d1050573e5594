namespace MoeRuntime.Model.Layers;

/// <summary>One sequence's part of a forward pass: new tokens to append to its cache (a whole prompt at prefill, one token per decode step).</summary>
public readonly record struct SequenceStep(KvCache Cache, ReadOnlyMemory<int> Tokens);
