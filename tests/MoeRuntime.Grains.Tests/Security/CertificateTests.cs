using System.Security.Cryptography.X509Certificates;
using MoeRuntime.Security;

namespace MoeRuntime.Grains.Tests.Security;

/// <summary>The development CA, the role scheme in certificates, and the two call proofs.</summary>
public sealed class CertificateTests : IDisposable
{
    static readonly TimeSpan Year = TimeSpan.FromDays(365);
    readonly X509Certificate2 _ca = DevCertificateAuthority.CreateAuthority("moe test CA", Year);
    readonly X509Certificate2 _otherCa = DevCertificateAuthority.CreateAuthority("someone else's CA", Year);

    public void Dispose()
    {
        _ca.Dispose();
        _otherCa.Dispose();
    }

    [Theory]
    [InlineData(MoeRole.Client)]
    [InlineData(MoeRole.Operator)]
    [InlineData(MoeRole.Internal)]
    public void AnIssuedCertificateCarriesItsRoleAndTheClusterTrustsIt(MoeRole role)
    {
        using X509Certificate2 cert = DevCertificateAuthority.Issue(_ca, "alice", role, Year);
        Assert.Equal(role, CertificateRoles.RoleOf(cert));
        TrustedCertificate? trusted = new ClusterTrust(_ca).Check(cert, out string? refusal);
        Assert.True(trusted is not null, refusal);
        Assert.Equal(role, trusted.Role);
        Assert.StartsWith($"{MoeRoles.Name(role)}:alice#", trusted.Identity);
    }

    [Fact]
    public void ACertificateOfAnotherAuthorityIsRefused()
    {
        using X509Certificate2 cert = DevCertificateAuthority.Issue(_otherCa, "mallory", MoeRole.Operator, Year);
        Assert.Null(new ClusterTrust(_ca).Check(cert, out string? refusal));
        Assert.Contains("mallory", refusal);
    }

    [Fact]
    public void ACertificateWithoutARoleIsRefused()
    {
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new CertificateRequest("CN=nobody", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        using X509Certificate2 cert = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
        Assert.Equal(MoeRole.None, CertificateRoles.RoleOf(cert));
        Assert.Null(new ClusterTrust(_ca).Check(cert, out string? refusal));
        Assert.Contains("no role", refusal);
    }

    [Fact]
    public void ASignedCallHoldsOnlyForItsTargetMethodAndTime()
    {
        using X509Certificate2 cert = DevCertificateAuthority.Issue(_ca, "olivia", MoeRole.Operator, Year);
        var trust = new ClusterTrust(_ca);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        long ts = now.ToUnixTimeSeconds();
        byte[] signature = SignedCallProof.Sign(cert, "tierset/default/0", "ITierSetGrain.UpdateAsync", ts);
        byte[] der = cert.RawData;
        Assert.NotNull(SignedCallProof.Verify(trust, der, signature, ts, "tierset/default/0", "ITierSetGrain.UpdateAsync", now, out _));
        Assert.Null(SignedCallProof.Verify(trust, der, signature, ts, "tierset/default/1", "ITierSetGrain.UpdateAsync", now, out _));
        Assert.Null(SignedCallProof.Verify(trust, der, signature, ts, "tierset/default/0", "ITierControllerGrain.PinAsync", now, out _));
        Assert.Null(SignedCallProof.Verify(trust, der, signature, ts, "tierset/default/0", "ITierSetGrain.UpdateAsync", now.AddMinutes(10), out string? late));
        Assert.Contains("timestamp", late);
        // Another CA's certificate signing correctly is still refused.
        using X509Certificate2 foreign = DevCertificateAuthority.Issue(_otherCa, "olivia", MoeRole.Operator, Year);
        byte[] foreignSignature = SignedCallProof.Sign(foreign, "tierset/default/0", "ITierSetGrain.UpdateAsync", ts);
        Assert.Null(SignedCallProof.Verify(trust, foreign.RawData, foreignSignature, ts, "tierset/default/0", "ITierSetGrain.UpdateAsync", now, out _));
    }

    [Fact]
    public void AnInternalProofFitsOnlyItsCallAndKey()
    {
        byte[] key = Convert.FromHexString(InternalCallProof.NewKeyHex());
        var proof = new InternalCallProof(key);
        byte[] type = "expert"u8.ToArray(), grain = "default/0/3"u8.ToArray();
        byte[] made = proof.Create(type, grain, "ComputeAsync");
        Assert.True(proof.Verify(type, grain, "ComputeAsync", made));
        Assert.False(proof.Verify(type, "default/0/4"u8, "ComputeAsync", made));
        Assert.False(proof.Verify(type, grain, "PrefetchAsync", made));
        Assert.False(new InternalCallProof(Convert.FromHexString(InternalCallProof.NewKeyHex())).Verify(type, grain, "ComputeAsync", made));
        Assert.Throws<ArgumentException>(() => new InternalCallProof(new byte[16]));
    }
}
