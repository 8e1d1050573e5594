using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace MoeRuntime.Security;

/// <summary>
/// The proof a silo attaches to every call it makes: HMAC-SHA256, under the cluster's internal key (which only silos
/// hold), of the target grain and the method. A caller without the key cannot make one; a proof seen on one call does
/// not fit another target or method. Clients never receive one (Orleans returns no request context with responses).
/// </summary>
public sealed class InternalCallProof
{
    /// <summary>The shortest key accepted, in bytes.</summary>
    public const int MinKeyBytes = 32;
    /// <summary>The length of a proof, in bytes.</summary>
    public const int ProofBytes = 32;
    readonly byte[] _key;

    public InternalCallProof(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < MinKeyBytes) throw new ArgumentException($"the internal call key has {key.Length} bytes; it needs at least {MinKeyBytes}", nameof(key));
        _key = (byte[])key.Clone();
    }

    /// <summary>Reads a key file: hex text (as <c>moe cert</c> writes it), at least 32 bytes once decoded.</summary>
    public static InternalCallProof FromFile(string path)
    {
        string text = File.ReadAllText(path).Trim();
        byte[] key;
        try
        {
            key = Convert.FromHexString(text);
        }
        catch (FormatException)
        {
            throw new FormatException($"the internal call key file '{path}' is not hex text");
        }
        return new InternalCallProof(key);
    }

    /// <summary>A new random key as hex text.</summary>
    public static string NewKeyHex() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(MinKeyBytes));

    /// <summary>The proof for a call of <paramref name="method"/> on the grain with this type and key.</summary>
    public byte[] Create(ReadOnlySpan<byte> grainType, ReadOnlySpan<byte> grainKey, string method)
    {
        var proof = new byte[ProofBytes];
        Compute(grainType, grainKey, method, proof);
        return proof;
    }

    /// <summary>Whether <paramref name="proof"/> is the proof for this call (constant time).</summary>
    public bool Verify(ReadOnlySpan<byte> grainType, ReadOnlySpan<byte> grainKey, string method, ReadOnlySpan<byte> proof)
    {
        if (proof.Length != ProofBytes) return false;
        Span<byte> expected = stackalloc byte[ProofBytes];
        Compute(grainType, grainKey, method, expected);
        return CryptographicOperations.FixedTimeEquals(expected, proof);
    }

    void Compute(ReadOnlySpan<byte> grainType, ReadOnlySpan<byte> grainKey, string method, Span<byte> destination)
    {
        int length = 12 + grainType.Length + grainKey.Length + Encoding.UTF8.GetMaxByteCount(method.Length);
        byte[]? rented = length > 512 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> input = rented ?? stackalloc byte[512];
        try
        {
            // Length-prefixed fields, so no two different calls share an input.
            int at = 0;
            at += Field(grainType, input[at..]);
            at += Field(grainKey, input[at..]);
            int written = Encoding.UTF8.GetBytes(method, input[(at + 4)..]);
            BitConverter.TryWriteBytes(input[at..], written);
            at += 4 + written;
            HMACSHA256.HashData(_key, input[..at], destination);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    static int Field(ReadOnlySpan<byte> value, Span<byte> destination)
    {
        BitConverter.TryWriteBytes(destination, value.Length);
        value.CopyTo(destination[4..]);
        return 4 + value.Length;
    }
}
