using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace MoeRuntime.Security;

/// <summary>
/// The proof a client holding an operator certificate attaches to its calls: its certificate, a timestamp and a
/// signature with the certificate's private key over the target grain, the method and the timestamp. The silo checks
/// the certificate against the cluster CA, the signature, and that the timestamp is within <see cref="MaxSkew"/>; the
/// role is the certificate's (at most operator: only the internal key makes a caller internal).
/// </summary>
public static class SignedCallProof
{
    /// <summary>How far a signed call's timestamp may be from the silo's clock.</summary>
    public static readonly TimeSpan MaxSkew = TimeSpan.FromMinutes(5);

    /// <summary>Signs a call of <paramref name="method"/> on <paramref name="target"/> at <paramref name="unixSeconds"/>.</summary>
    public static byte[] Sign(X509Certificate2 certificate, string target, string method, long unixSeconds)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        byte[] data = Payload(target, method, unixSeconds);
        using ECDsa? ecdsa = certificate.GetECDsaPrivateKey();
        if (ecdsa is not null) return ecdsa.SignData(data, HashAlgorithmName.SHA256);
        using RSA? rsa = certificate.GetRSAPrivateKey();
        if (rsa is not null) return rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
        throw new ArgumentException($"certificate '{certificate.Subject}' has no ECDSA or RSA private key to sign calls with", nameof(certificate));
    }

    /// <summary>
    /// The caller's certificate if the proof holds: issued by the cluster CA, signature valid for this call, timestamp
    /// within the skew. Otherwise <c>null</c> and the reason.
    /// </summary>
    public static TrustedCertificate? Verify(ClusterTrust trust, byte[] certificateDer, byte[] signature, long unixSeconds,
        string target, string method, DateTimeOffset now, out string? refusal)
    {
        ArgumentNullException.ThrowIfNull(trust);
        if (Math.Abs(now.ToUnixTimeSeconds() - unixSeconds) > MaxSkew.TotalSeconds)
        {
            refusal = "the signed call's timestamp is more than 5 minutes from the silo's clock";
            return null;
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(certificateDer);
        }
        catch (CryptographicException)
        {
            refusal = "the signed call's certificate cannot be read";
            return null;
        }
        using (certificate)
        {
            TrustedCertificate? trusted = trust.Check(certificate, out refusal);
            if (trusted is null) return null;
            byte[] data = Payload(target, method, unixSeconds);
            bool valid;
            using (ECDsa? ecdsa = certificate.GetECDsaPublicKey())
            using (RSA? rsa = ecdsa is null ? certificate.GetRSAPublicKey() : null)
            {
                valid = ecdsa is not null ? ecdsa.VerifyData(data, signature, HashAlgorithmName.SHA256)
                    : rsa is not null && rsa.VerifyData(data, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
            }
            if (!valid)
            {
                refusal = $"the signature of '{certificate.Subject}' does not match this call";
                return null;
            }
            return trusted;
        }
    }

    static byte[] Payload(string target, string method, long unixSeconds) =>
        Encoding.UTF8.GetBytes($"moe-call-v1\n{target}\n{method}\n{unixSeconds}");
}
