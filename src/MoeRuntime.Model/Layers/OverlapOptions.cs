namespace MoeRuntime.Model.Layers;

/// <summary>
/// Micro-batch overlap of a step (section <c>Moe:Overlap</c>): the step's sequences split into <see cref="MicroBatches"/>
/// groups whose expert dispatch overlaps the other groups' attention and gate (see docs/step-breakdown.md, "Overlap").
/// </summary>
public sealed record OverlapOptions
{
    /// <summary>The most micro-batches a step is split into; 1 (the default) runs the step unsplit.</summary>
    public int MicroBatches { get; init; } = 1;

    /// <summary>Steps of fewer sequences than this run unsplit: splitting a small batch only multiplies the calls per layer.</summary>
    public int MinSequences { get; init; } = 4;

    /// <summary>The most micro-batches a step may be split into.</summary>
    public const int MaxMicroBatches = 16;

    /// <summary>Whether a step of <paramref name="sequences"/> sequences is split.</summary>
    public bool Splits(int sequences) => MicroBatches > 1 && sequences >= Math.Max(2, MinSequences);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (MicroBatches is < 1 or > MaxMicroBatches)
            throw new ArgumentException($"OverlapOptions.MicroBatches must be between 1 and {MaxMicroBatches} (1 turns overlap off), was {MicroBatches}", nameof(MicroBatches));
        if (MinSequences < 2)
            throw new ArgumentException($"OverlapOptions.MinSequences must be at least 2 (one sequence cannot be split), was {MinSequences}", nameof(MinSequences));
    }
}
