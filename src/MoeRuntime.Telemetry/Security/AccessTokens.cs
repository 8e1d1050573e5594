using System.Security.Cryptography;
using System.Text;

namespace MoeRuntime.Telemetry.Security;

/// <summary>What an HTTP token may do. An operator may also do everything a viewer may.</summary>
public enum AccessRole
{
    /// <summary>Reads: /metrics, the JSON views, the dashboard, the router's status.</summary>
    Viewer,
    /// <summary>Writes: tenant deletion and any /v1/control change.</summary>
    Operator,
}

/// <summary>
/// The HTTP tokens of a rank and their roles. A presented token is compared with every configured one in constant time
/// (<see cref="CryptographicOperations.FixedTimeEquals"/>, no early exit), so timing tells neither which token nor how
/// much of it matched. Tokens are never logged: <see cref="Fingerprint"/> names one instead.
/// </summary>
public sealed class AccessTokens
{
    readonly (byte[] Token, AccessRole Role)[] _tokens;

    /// <exception cref="ArgumentException">A token is blank, or the same token is given both roles.</exception>
    public AccessTokens(IEnumerable<string> viewers, IEnumerable<string> operators)
    {
        ArgumentNullException.ThrowIfNull(viewers);
        ArgumentNullException.ThrowIfNull(operators);
        var tokens = new List<(byte[], AccessRole)>();
        var seen = new Dictionary<string, AccessRole>(StringComparer.Ordinal);
        foreach (var (token, role) in viewers.Select(t => (t, AccessRole.Viewer)).Concat(operators.Select(t => (t, AccessRole.Operator))))
        {
            if (string.IsNullOrWhiteSpace(token)) throw new ArgumentException($"a {Name(role)} token must not be blank");
            if (seen.TryGetValue(token, out AccessRole other) && other != role)
                throw new ArgumentException($"token {Fingerprint(token)} is both a viewer and an operator token; give each role its own");
            seen[token] = role;
            tokens.Add((Encoding.UTF8.GetBytes(token), role));
        }
        _tokens = [.. tokens];
    }

    /// <summary>How many tokens hold <paramref name="role"/>.</summary>
    public int Count(AccessRole role) => _tokens.Count(t => t.Role == role);

    /// <summary>The role of <paramref name="presented"/>, or null when it is none of the tokens (or empty).</summary>
    public AccessRole? RoleOf(ReadOnlySpan<char> presented)
    {
        if (presented.IsEmpty) return null;
        int max = Encoding.UTF8.GetMaxByteCount(presented.Length);
        byte[]? rented = max > 512 ? new byte[max] : null;
        Span<byte> bytes = rented ?? stackalloc byte[max];
        bytes = bytes[..Encoding.UTF8.GetBytes(presented, bytes)];
        AccessRole? role = null;
        // Every token is compared, whatever matched before: the time taken does not depend on which one matches.
        foreach (var (token, tokenRole) in _tokens)
            if (CryptographicOperations.FixedTimeEquals(token, bytes) && (role is null || tokenRole > role))
                role = tokenRole;
        return role;
    }

    /// <summary>Whether a caller holding <paramref name="held"/> may use an endpoint that requires <paramref name="required"/>.</summary>
    public static bool Grants(AccessRole held, AccessRole required) => held >= required;

    /// <summary>A token's name in logs: the first 8 hex digits of its SHA-256, enough to tell tokens apart and useless to an attacker.</summary>
    public static string Fingerprint(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)).AsSpan(0, 4));
    }

    /// <summary>The lower-case name of a role, as configuration and messages spell it.</summary>
    public static string Name(AccessRole role) => role == AccessRole.Operator ? "operator" : "viewer";
}
