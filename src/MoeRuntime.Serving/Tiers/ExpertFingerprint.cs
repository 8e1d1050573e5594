using System.Security.Cryptography;
using MoeRuntime.Model.Checkpoints;

namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// The reference SHA-256 of each of an expert's three tensors: the checkpoint manifest's when it has one, otherwise
/// taken from the bytes read at registration. One digest per tensor lets a failed check name the tensor and file.
/// </summary>
sealed class ExpertFingerprint
{
    readonly byte[] _digests;

    ExpertFingerprint(byte[] digests, bool fromManifest)
    {
        _digests = digests;
        FromManifest = fromManifest;
    }

    /// <summary>The digests are the checkpoint manifest's.</summary>
    public bool FromManifest { get; }

    public static ExpertFingerprint Of(ExpertTensors expert, ReadOnlySpan<byte> raw)
    {
        var digests = new byte[3 * SHA256.HashSizeInBytes];
        for (int t = 0; t < 3; t++)
            SHA256.HashData(Slice(expert, raw, t), digests.AsSpan(t * SHA256.HashSizeInBytes, SHA256.HashSizeInBytes));
        return new ExpertFingerprint(digests, fromManifest: false);
    }

    /// <exception cref="CheckpointException">The manifest has no digest for one of the tensors.</exception>
    public static ExpertFingerprint Of(ExpertTensors expert, CheckpointManifest manifest)
    {
        var digests = new byte[3 * SHA256.HashSizeInBytes];
        for (int t = 0; t < 3; t++)
            manifest.TensorDigest(Entry(expert, t).Name).CopyTo(digests.AsSpan(t * SHA256.HashSizeInBytes, SHA256.HashSizeInBytes));
        return new ExpertFingerprint(digests, fromManifest: true);
    }

    /// <exception cref="IntegrityException">A tensor's bytes differ from its reference digest.</exception>
    public void Verify(ExpertTensors expert, ReadOnlySpan<byte> raw)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        for (int t = 0; t < 3; t++)
        {
            SHA256.HashData(Slice(expert, raw, t), digest);
            if (!digest.SequenceEqual(_digests.AsSpan(t * SHA256.HashSizeInBytes, SHA256.HashSizeInBytes)))
            {
                TensorEntry entry = Entry(expert, t);
                throw new IntegrityException(expert.Key, entry.Name, entry.File, FromManifest);
            }
        }
    }

    static TensorEntry Entry(ExpertTensors expert, int tensor) => tensor switch { 0 => expert.W1, 1 => expert.W2, _ => expert.W3 };

    static ReadOnlySpan<byte> Slice(ExpertTensors expert, ReadOnlySpan<byte> raw, int tensor)
    {
        int w2Start = (int)expert.W1.Length, w3Start = w2Start + (int)expert.W2.Length;
        return tensor switch { 0 => raw[..w2Start], 1 => raw[w2Start..w3Start], _ => raw[w3Start..] };
    }
}
