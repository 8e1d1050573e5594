using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MoeRuntime.Traces;

/// <summary>
/// Turns request keys into opaque ids for a trace: a keyed hash (HMAC-SHA-256, truncated to 64 bits)
/// under a random key that lives only in this object. The same request gets the same id within one
/// trace; ids cannot be linked to the request, to logs, or to another trace.
/// </summary>
public sealed class RequestPseudonyms
{
    readonly byte[] _key;

    public RequestPseudonyms(byte[]? key = null)
    {
        _key = key ?? RandomNumberGenerator.GetBytes(32);
        if (_key.Length < 16) throw new ArgumentException("a pseudonym key has at least 16 bytes", nameof(key));
    }

    public ulong Of(ulong requestKey)
    {
        Span<byte> source = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(source, requestKey);
        return Hash(source);
    }

    public ulong Of(ReadOnlySpan<char> requestId)
    {
        int max = Encoding.UTF8.GetMaxByteCount(requestId.Length);
        Span<byte> source = max <= 512 ? stackalloc byte[max] : new byte[max];
        return Hash(source[..Encoding.UTF8.GetBytes(requestId, source)]);
    }

    ulong Hash(ReadOnlySpan<byte> source)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, source, mac);
        return BinaryPrimitives.ReadUInt64LittleEndian(mac);
    }
}
