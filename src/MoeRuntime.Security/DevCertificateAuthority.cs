using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MoeRuntime.Security;

/// <summary>
/// A development certificate authority: a self-signed CA and certificates it issues for silos (<c>internal</c>),
/// operators and clients, each carrying its role as a subject-alternative-name URI (<see cref="CertificateRoles"/>).
/// ECDSA P-256, no openssl needed. For a production cluster, issue the same extensions from your own CA.
/// </summary>
public static class DevCertificateAuthority
{
    /// <summary>A new self-signed CA certificate (with its private key).</summary>
    public static X509Certificate2 CreateAuthority(string name, TimeSpan validity)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now + validity);
    }

    /// <summary>
    /// A certificate for <paramref name="name"/> with <paramref name="role"/>, issued by <paramref name="authority"/>
    /// (which must hold its private key), with its own private key. Silo certificates also name localhost and
    /// <paramref name="hosts"/> (DNS names or IP addresses) and serve as both TLS server and client.
    /// </summary>
    public static X509Certificate2 Issue(X509Certificate2 authority, string name, MoeRole role, TimeSpan validity, IEnumerable<string>? hosts = null)
    {
        ArgumentNullException.ThrowIfNull(authority);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (role == MoeRole.None) throw new ArgumentException("a certificate needs a role: client, operator or internal", nameof(role));
        if (name.IndexOfAny([',', '=', '+', '"', '\\', '<', '>', ';', '\n', '\r']) >= 0)
            throw new ArgumentException($"certificate name '{name}' may not contain , = + \" \\ < > ; or line breaks", nameof(name));
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={name}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var usages = new OidCollection { new Oid("1.3.6.1.5.5.7.3.2", "Client Authentication") };
        if (role == MoeRole.Internal) usages.Add(new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication"));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(usages, critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddUri(new Uri($"{CertificateRoles.UriScheme}:{MoeRoles.Name(role)}"));
        if (role == MoeRole.Internal)
        {
            names.AddDnsName("localhost");
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            foreach (string host in hosts ?? [])
            {
                if (System.Net.IPAddress.TryParse(host, out System.Net.IPAddress? address)) names.AddIpAddress(address);
                else names.AddDnsName(host);
            }
        }
        request.CertificateExtensions.Add(names.Build());
        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset notAfter = now + validity;
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter;
        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using X509Certificate2 issued = request.Create(authority, now.AddMinutes(-5), notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>Writes a certificate with its private key as a PKCS#12 file protected by <paramref name="password"/>.</summary>
    public static void WritePfx(X509Certificate2 certificate, string path, string password)
    {
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12, password));
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    /// <summary>Writes a certificate (no key) as PEM, e.g. the CA that silos and clients trust.</summary>
    public static void WritePem(X509Certificate2 certificate, string path) => File.WriteAllText(path, certificate.ExportCertificatePem() + "\n");

    /// <summary>Reads a certificate with its private key from a PKCS#12 file.</summary>
    public static X509Certificate2 LoadPfx(string path, string? password) =>
        X509CertificateLoader.LoadPkcs12FromFile(path, password, X509KeyStorageFlags.EphemeralKeySet);

    /// <summary>Reads a trusted CA certificate from a PEM or DER file.</summary>
    public static X509Certificate2 LoadAuthority(string path) => X509CertificateLoader.LoadCertificateFromFile(path);
}
