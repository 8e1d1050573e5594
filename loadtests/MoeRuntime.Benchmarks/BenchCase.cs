namespace MoeRuntime.Benchmarks;

/// <summary>
/// One timed operation. <paramref name="Repeatable"/> is false for ops that change state (a decode
/// step grows the cache), which are timed one call per sample so that every sample sees one step.
/// </summary>
sealed record BenchCase(string Name, Action Op, bool Repeatable = true);
