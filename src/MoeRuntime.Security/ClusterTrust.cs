using System.Collections.Concurrent;
using System.Security.Cryptography.X509Certificates;

namespace MoeRuntime.Security;

/// <summary>A certificate the cluster's CA issued, with the role and identity it carries.</summary>
public sealed record TrustedCertificate(MoeRole Role, string Identity, string Thumbprint);

/// <summary>
/// Checks certificates against the cluster's own certificate authority only (never the machine's store): the chain
/// must end at that CA, every certificate must be within its validity, and the leaf must carry a role. Results are
/// cached per thumbprint (bounded), since the same few certificates are seen on every connection and signed call.
/// </summary>
public sealed class ClusterTrust
{
    const int MaxCached = 1024;
    readonly X509Certificate2 _authority;
    readonly TimeProvider _time;
    readonly ConcurrentDictionary<string, (TrustedCertificate? Trusted, DateTimeOffset NotAfter)> _cache = new(StringComparer.Ordinal);

    public ClusterTrust(X509Certificate2 authority, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(authority);
        _authority = authority;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>The CA certificate itself.</summary>
    public X509Certificate2 Authority => _authority;

    /// <summary>The role and identity of a certificate the CA issued, or <c>null</c> with the reason it is refused.</summary>
    public TrustedCertificate? Check(X509Certificate2 certificate, out string? refusal)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        DateTimeOffset now = _time.GetUtcNow();
        if (_cache.TryGetValue(certificate.Thumbprint, out var cached) && now < cached.NotAfter && cached.Trusted is not null)
        {
            refusal = null;
            return cached.Trusted;
        }
        TrustedCertificate? trusted = Validate(certificate, now, out refusal);
        if (trusted is not null)
        {
            if (_cache.Count >= MaxCached) _cache.Clear();
            _cache[certificate.Thumbprint] = (trusted, new DateTimeOffset(certificate.NotAfter.ToUniversalTime()));
        }
        return trusted;
    }

    TrustedCertificate? Validate(X509Certificate2 certificate, DateTimeOffset now, out string? refusal)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        bool built = chain.Build(certificate);
        try
        {
            if (!built)
            {
                refusal = $"certificate '{certificate.Subject}' is not issued by the cluster CA or is not valid now ({string.Join(", ", chain.ChainStatus.Select(s => s.Status))})";
                return null;
            }
            X509Certificate2 root = chain.ChainElements[^1].Certificate;
            if (!string.Equals(root.Thumbprint, _authority.Thumbprint, StringComparison.OrdinalIgnoreCase))
            {
                refusal = $"certificate '{certificate.Subject}' does not chain to the cluster CA";
                return null;
            }
        }
        finally
        {
            foreach (X509ChainElement element in chain.ChainElements) if (!ReferenceEquals(element.Certificate, certificate)) element.Certificate.Dispose();
        }
        MoeRole role = CertificateRoles.RoleOf(certificate);
        if (role == MoeRole.None)
        {
            refusal = $"certificate '{certificate.Subject}' carries no role (a subject alternative name URI {CertificateRoles.UriScheme}:client|operator|internal)";
            return null;
        }
        refusal = null;
        return new TrustedCertificate(role, CertificateRoles.IdentityOf(certificate, role), certificate.Thumbprint);
    }
}
