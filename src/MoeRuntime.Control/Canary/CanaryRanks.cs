namespace MoeRuntime.Control.Canary;

/// <summary>Which live ranks carry a trial's change and which are its control.</summary>
/// <param name="Canary">Ranks that carry the change, ascending.</param>
/// <param name="Control">The other live ranks, ascending: what the canary is judged against.</param>
public sealed record CanaryRanks(IReadOnlyList<int> Canary, IReadOnlyList<int> Control)
{
    /// <summary>
    /// The highest-numbered live ranks as canary (<see cref="CanaryOptions.Share"/> of them rounded up, or
    /// <see cref="CanaryOptions.Ranks"/>), always leaving at least one control rank.
    /// </summary>
    /// <exception cref="InvalidOperationException">Fewer than two live ranks: nothing to compare the canary with.</exception>
    public static CanaryRanks Choose(IReadOnlyList<int> live, CanaryOptions options)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(options);
        int[] ranks = [.. live.Distinct().Order()];
        if (ranks.Length < 2)
            throw new InvalidOperationException($"a canary needs at least two live ranks, one to carry the change and one to compare with; {ranks.Length} live");
        int wanted = options.Share > 0 ? (int)Math.Ceiling(options.Share * ranks.Length) : options.Ranks;
        int count = Math.Clamp(wanted, 1, ranks.Length - 1);
        return new CanaryRanks(ranks[^count..], ranks[..^count]);
    }
}
