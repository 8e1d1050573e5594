using System.Globalization;

namespace MoeRuntime.Control.Prefetch;

/// <summary>Checking an operator's prefetch settings and describing a change in words for the audit trail.</summary>
public static class PrefetchSettingsChanges
{
    /// <summary>The current settings with the named changes applied.</summary>
    /// <exception cref="ArgumentException">A lookahead below 0 or above <paramref name="maxLookahead"/>, an unknown layer, or a threshold outside [0, 1].</exception>
    public static PrefetchSettings Apply(PrefetchSettings current, int? lookahead, IReadOnlyDictionary<int, double> thresholds, int maxLookahead)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(thresholds);
        if (lookahead is < 0 || lookahead > maxLookahead)
            throw new ArgumentException($"the lookahead must be within 0..{maxLookahead} layers, was {lookahead}", nameof(lookahead));
        double[] next = [.. current.Thresholds];
        foreach (var (layer, threshold) in thresholds)
        {
            if ((uint)layer >= (uint)next.Length)
                throw new ArgumentException($"layer {layer} does not exist: the model has layers 0..{next.Length - 1}", nameof(thresholds));
            if (!(threshold >= 0 && threshold <= 1))
                throw new ArgumentException($"the threshold of layer {layer} must be within [0, 1], was {threshold}", nameof(thresholds));
            next[layer] = threshold;
        }
        return new PrefetchSettings(lookahead ?? current.Lookahead, next);
    }

    /// <summary>For example <c>lookahead 2 → 1; thresholds L1 0.05 → 0.10, L3 0.05 → 0.10</c>; <c>no change</c> when equal.</summary>
    public static string Describe(PrefetchSettings before, PrefetchSettings after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var parts = new List<string>();
        if (before.Lookahead != after.Lookahead) parts.Add($"lookahead {before.Lookahead} → {after.Lookahead}");
        var moved = Enumerable.Range(0, Math.Max(before.Thresholds.Count, after.Thresholds.Count))
            .Where(l => At(before, l) != At(after, l))
            .Select(l => string.Create(CultureInfo.InvariantCulture, $"L{l} {At(before, l):0.00} → {At(after, l):0.00}"))
            .ToArray();
        if (moved.Length > 0) parts.Add("thresholds " + string.Join(", ", moved));
        return parts.Count == 0 ? $"no change (lookahead {after.Lookahead})" : string.Join("; ", parts);
    }

    /// <summary>True when the two settings hint the same experts.</summary>
    public static bool Same(PrefetchSettings a, PrefetchSettings b) =>
        a.Lookahead == b.Lookahead && a.Thresholds.Count == b.Thresholds.Count && a.Thresholds.SequenceEqual(b.Thresholds);

    static double At(PrefetchSettings settings, int layer) => layer < settings.Thresholds.Count ? settings.Thresholds[layer] : 0;
}
