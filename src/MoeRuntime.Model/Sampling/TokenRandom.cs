namespace MoeRuntime.Model.Sampling;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small generator whose stream depends only on the seed,
/// so a request's samples do not depend on the .NET version or on what else shares the batch.
/// </summary>
public struct TokenRandom
{
    ulong _s0, _s1, _s2, _s3;

    public TokenRandom(ulong seed)
    {
        _s0 = SplitMix(ref seed);
        _s1 = SplitMix(ref seed);
        _s2 = SplitMix(ref seed);
        _s3 = SplitMix(ref seed);
    }

    /// <summary>
    /// The generator for the token at absolute sequence position <paramref name="position"/> of a request seeded with
    /// <paramref name="seed"/>: its draws depend on (seed, position) only, never on how many draws came before, so a
    /// request resumed elsewhere with its earlier tokens appended to the prompt samples the same tokens.
    /// </summary>
    public static TokenRandom ForPosition(ulong seed, int position)
    {
        ulong mixed = (ulong)(uint)position + 0x632BE59BD9B4E019UL;
        return new TokenRandom(seed ^ SplitMix(ref mixed));
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    static ulong SplitMix(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
