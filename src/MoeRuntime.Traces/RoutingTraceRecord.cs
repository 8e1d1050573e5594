namespace MoeRuntime.Traces;

/// <summary>
/// One request's tokens at one layer in one step: where they are in the request, and for each token the
/// experts the gate chose (best first) with their weights. Experts and weights are flat,
/// <see cref="TopK"/> per position; no token ids or text.
/// </summary>
/// <param name="Step">Forward pass number, non-decreasing through a trace.</param>
/// <param name="Request">Opaque request pseudonym (never the request id itself).</param>
/// <param name="Layer">Layer index.</param>
/// <param name="Positions">Token positions within the request, one per token.</param>
/// <param name="TopK">Choices per token in <paramref name="Experts"/> and <paramref name="Weights"/>.</param>
/// <param name="Experts">Expert of token i's choice s at i * TopK + s.</param>
/// <param name="Weights">Gate weight of each choice, same layout; empty when the source had none.</param>
public sealed record RoutingTraceRecord(long Step, string Request, int Layer, long[] Positions, int TopK, int[] Experts, float[] Weights)
{
    public int TokenCount => Positions.Length;

    public ReadOnlySpan<int> ExpertsOf(int token) => Experts.AsSpan(token * TopK, TopK);
}
