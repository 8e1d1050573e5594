namespace MoeRuntime.Control.Cost;

/// <summary>
/// Cost-adaptive routing: biasing the gate away from cold experts trades answer quality for fewer disk reads, so it is
/// off unless switched on, and bounded by how many top-k choices it may change.
/// </summary>
public sealed record CostAwareRoutingOptions
{
    /// <summary>Off by default: the gate routes as trained.</summary>
    public bool Enabled { get; init; }

    /// <summary>Subtracted from a cold expert's gate score (same unit as the scores: logits or probabilities).</summary>
    public float ColdPenalty { get; init; } = 0.5f;

    /// <summary>How many experts the gate picks per token.</summary>
    public int TopK { get; init; } = 2;

    /// <summary>The quality guard: the largest share of top-k choices the bias may change (0.05 = 5 %); above it routing stays unbiased.</summary>
    public double MaxChangedShare { get; init; } = 0.05;

    /// <exception cref="ArgumentException">A value is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!(ColdPenalty >= 0) || float.IsInfinity(ColdPenalty))
            throw new ArgumentException($"CostAwareRoutingOptions.ColdPenalty must be a finite number of at least 0, was {ColdPenalty}", nameof(ColdPenalty));
        if (TopK < 1)
            throw new ArgumentException($"CostAwareRoutingOptions.TopK must be at least 1, was {TopK}", nameof(TopK));
        if (!(MaxChangedShare >= 0 && MaxChangedShare <= 1))
            throw new ArgumentException($"CostAwareRoutingOptions.MaxChangedShare must be a share [0, 1], was {MaxChangedShare}", nameof(MaxChangedShare));
    }
}
