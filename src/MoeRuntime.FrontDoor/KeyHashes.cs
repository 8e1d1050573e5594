using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace MoeRuntime.FrontDoor;

/// <summary>API keys are kept only as <c>sha256:</c> hashes; a presented key is hashed and looked up.</summary>
public static class KeyHashes
{
    const string Prefix = "sha256:";

    /// <summary>The lower-case hex SHA-256 of the key's UTF-8 bytes (without the prefix).</summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The configuration form of <paramref name="key"/>: <c>sha256:</c> and its hash.</summary>
    public static string Configured(string key) => Prefix + Hash(key);

    public static bool TryParse(string? configured, [NotNullWhen(true)] out string? hash)
    {
        hash = null;
        if (configured is null || !configured.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)) return false;
        string hex = configured[Prefix.Length..];
        if (hex.Length != 64 || !hex.All(Uri.IsHexDigit)) return false;
        hash = hex.ToLowerInvariant();
        return true;
    }
}
