namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// The routing digest of one token at one layer: a 64-bit hash of the chosen experts and their gate
/// weights quantised to 1/256. Two ranks that route the same token alike report the same digest;
/// the order in which top-k lists the experts does not matter.
/// </summary>
public static class RoutingDigest
{
    /// <summary>Steps per unit of gate weight; differences below 1/256 are rounding, not disagreement.</summary>
    public const int WeightSteps = 256;

    /// <summary>Digest of the experts chosen for one token and their weights (same length).</summary>
    public static ulong Compute(ReadOnlySpan<int> experts, ReadOnlySpan<float> weights)
    {
        if (experts.Length != weights.Length)
            throw new ArgumentException("Each chosen expert needs its weight.", nameof(weights));
        // Summing well-mixed per-choice hashes makes the digest independent of the top-k order
        // without sorting (which would need scratch space on the hot path).
        ulong sum = 0;
        for (var i = 0; i < experts.Length; i++)
        {
            var quantised = (uint)(int)MathF.Round(weights[i] * WeightSteps);
            sum += Mix(((ulong)(uint)experts[i] << 32) | quantised);
        }
        return Mix(sum ^ (ulong)experts.Length);
    }

    /// <summary>A stable 64-bit hash of a request id (unlike <see cref="string.GetHashCode()"/>, equal on every rank and process).</summary>
    public static ulong HashRequestId(ReadOnlySpan<char> requestId)
    {
        // FNV-1a over UTF-16 code units, then a mixer to spread FNV's weak low bits.
        var hash = 14695981039346656037UL;
        foreach (var c in requestId)
        {
            hash ^= c;
            hash *= 1099511628211UL;
        }
        return Mix(hash);
    }

    // SplitMix64's finaliser: every input bit affects every output bit.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
