using System.Security.Cryptography;
using System.Text;

namespace MoeRuntime.Telemetry.Security;

/// <summary>
/// The name a tenant appears under in logs and spans: HMAC-SHA-256 of the tenant's name under the cluster's pseudonym
/// key, the first 8 bytes as 16 hex digits. Every rank configured with the same key gives a tenant the same pseudonym,
/// so its requests can be followed across ranks and purged downstream; without the key a pseudonym cannot be linked to
/// a tenant by hashing candidate names (a plain hash of a short, guessable tenant name could).
/// </summary>
public sealed class TenantPseudonyms
{
    /// <summary>The shortest key accepted, in bytes of its UTF-8 text (128 bits of a random hex string).</summary>
    public const int MinKeyLength = 32;

    readonly byte[] _key;

    /// <param name="key">The cluster's secret (configuration); null or empty makes a random key for this process only.</param>
    /// <exception cref="ArgumentException">The key is shorter than <see cref="MinKeyLength"/>.</exception>
    public TenantPseudonyms(string? key)
    {
        if (string.IsNullOrEmpty(key))
        {
            _key = RandomNumberGenerator.GetBytes(32);
            IsEphemeral = true;
            return;
        }
        _key = Encoding.UTF8.GetBytes(key);
        if (_key.Length < MinKeyLength) throw new ArgumentException($"a pseudonym key has at least {MinKeyLength} characters, this one has {key.Length}", nameof(key));
    }

    /// <summary>True when no key was configured: pseudonyms then hold only within this process.</summary>
    public bool IsEphemeral { get; }

    public string Of(string tenant)
    {
        ArgumentNullException.ThrowIfNull(tenant);
        int max = Encoding.UTF8.GetMaxByteCount(tenant.Length);
        Span<byte> source = max <= 512 ? stackalloc byte[max] : new byte[max];
        source = source[..Encoding.UTF8.GetBytes(tenant, source)];
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(_key, source, mac);
        return Convert.ToHexStringLower(mac[..8]);
    }
}
