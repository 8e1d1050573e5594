using System.Security.Cryptography;

namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// SHA-256 of each of an expert's three tensors, taken at registration. One digest per tensor lets a failed check
/// name the tensor and file that changed.
/// </summary>
sealed class ExpertFingerprint
{
    readonly byte[] _digests;

    ExpertFingerprint(byte[] digests) => _digests = digests;

    public static ExpertFingerprint Of(ExpertTensors expert, ReadOnlySpan<byte> raw)
    {
        var digests = new byte[3 * SHA256.HashSizeInBytes];
        for (int t = 0; t < 3; t++)
            SHA256.HashData(Slice(expert, raw, t), digests.AsSpan(t * SHA256.HashSizeInBytes, SHA256.HashSizeInBytes));
        return new ExpertFingerprint(digests);
    }

    /// <exception cref="IntegrityException">A tensor's bytes differ from those fingerprinted.</exception>
    public void Verify(ExpertTensors expert, ReadOnlySpan<byte> raw)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        for (int t = 0; t < 3; t++)
        {
            SHA256.HashData(Slice(expert, raw, t), digest);
            if (!digest.SequenceEqual(_digests.AsSpan(t * SHA256.HashSizeInBytes, SHA256.HashSizeInBytes)))
            {
                var entry = t switch { 0 => expert.W1, 1 => expert.W2, _ => expert.W3 };
                throw new IntegrityException(expert.Key, entry.Name, entry.File);
            }
        }
    }

    static ReadOnlySpan<byte> Slice(ExpertTensors expert, ReadOnlySpan<byte> raw, int tensor)
    {
        int w2Start = (int)expert.W1.Length, w3Start = w2Start + (int)expert.W2.Length;
        return tensor switch { 0 => raw[..w2Start], 1 => raw[w2Start..w3Start], _ => raw[w3Start..] };
    }
}
