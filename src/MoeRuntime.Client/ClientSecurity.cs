using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Security;
using Orleans.Connections.Security;

namespace MoeRuntime.Client;

/// <summary>The client's side of mutual TLS, and the signature an operator's certificate puts on each call.</summary>
static class ClientSecurity
{
    public static void UseConfiguredTls(this IClientBuilder client, MoeClientOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.Certificate))
        {
            if (!string.IsNullOrWhiteSpace(options.CertificateAuthority))
                throw new ArgumentException("a CA (--ca) without a client certificate (--cert): the gateways ask for a certificate");
            return;
        }
        if (string.IsNullOrWhiteSpace(options.CertificateAuthority))
            throw new ArgumentException("a client certificate (--cert) needs the cluster's CA (--ca) to check the gateways");
        X509Certificate2 certificate = DevCertificateAuthority.LoadPfx(options.Certificate, string.IsNullOrEmpty(options.CertificatePassword) ? null : options.CertificatePassword);
        if (!certificate.HasPrivateKey) throw new ArgumentException($"certificate '{options.Certificate}' has no private key");
        MoeRole role = CertificateRoles.RoleOf(certificate);
        if (role == MoeRole.None)
            throw new ArgumentException($"certificate '{options.Certificate}' carries no role ({CertificateRoles.UriScheme}:client or {CertificateRoles.UriScheme}:operator)");
        var trust = new ClusterTrust(DevCertificateAuthority.LoadAuthority(options.CertificateAuthority));
        client.UseTls(certificate, tls =>
        {
            tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            // A gateway is a silo: an internal certificate of the cluster CA.
            tls.RemoteCertificateValidation = (remote, _, _) => trust.Check(remote, out _)?.Role == MoeRole.Internal;
        });
        if (role >= MoeRole.Operator) client.Services.AddSingleton<IOutgoingGrainCallFilter>(new SigningCallFilter(certificate));
    }

    /// <summary>Signs every call with the operator's certificate (<see cref="SignedCallProof"/>).</summary>
    sealed class SigningCallFilter(X509Certificate2 certificate) : IOutgoingGrainCallFilter
    {
        readonly byte[] _der = certificate.RawData;

        public async Task Invoke(IOutgoingGrainCallContext context)
        {
            // Set inside this async method, so the values end with the call and do not linger in the caller's context.
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            RequestContext.Set(CallProofKeys.Certificate, _der);
            RequestContext.Set(CallProofKeys.Timestamp, now);
            RequestContext.Set(CallProofKeys.Signature, SignedCallProof.Sign(certificate, context.TargetId.ToString(), CallProofKeys.MethodName(context.InterfaceMethod), now));
            await context.Invoke();
        }
    }
}
