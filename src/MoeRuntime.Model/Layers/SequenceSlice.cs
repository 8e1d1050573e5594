namespace MoeRuntime.Model.Layers;

/// <summary>The rows [Start, Start + Count) of a flattened batch that belong to one sequence.</summary>
public readonly record struct SequenceSlice(KvCache Cache, int Start, int Count);
