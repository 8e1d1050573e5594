using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Connections;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Security;
using Orleans.Configuration;
using Orleans.Connections.Security;

namespace MoeRuntime.Silo;

/// <summary>
/// Applies <see cref="MoeSecurityOptions"/> to the silo's Orleans ports: mutual TLS with the cluster CA's certificates
/// on the silo-to-silo and gateway ports, then a role check per port after the handshake: the silo port (inbound and
/// outbound) admits only <c>internal</c> certificates (other silos), the gateway any role the CA issued.
/// </summary>
static partial class SiloSecurity
{
    public static ISiloBuilder UseConfiguredTls(this ISiloBuilder silo, MoeSecurityOptions options)
    {
        if (!options.Tls) return silo;
        X509Certificate2 certificate = DevCertificateAuthority.LoadPfx(options.Certificate, options.CertificatePassword);
        MoeRole role = CertificateRoles.RoleOf(certificate);
        if (role != MoeRole.Internal)
            throw new InvalidOperationException($"{MoeSecurityOptions.Section}:Certificate '{options.Certificate}' carries the role '{MoeRoles.Name(role)}'; a silo's certificate needs 'internal' ({CertificateRoles.UriScheme}:internal)");
        if (!certificate.HasPrivateKey)
            throw new InvalidOperationException($"{MoeSecurityOptions.Section}:Certificate '{options.Certificate}' has no private key");
        var trust = new ClusterTrust(DevCertificateAuthority.LoadAuthority(options.CertificateAuthority));
        if (trust.Check(certificate, out string? refusal) is null)
            throw new InvalidOperationException($"{MoeSecurityOptions.Section}:Certificate: {refusal}");
        silo.UseTls(certificate, tls =>
        {
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            // The cluster CA only, never the machine's store; host names are not checked (ranks are named by role).
            tls.RemoteCertificateValidation = (remote, _, _) => trust.Check(remote, out _) is not null;
        });
        silo.Configure<SiloConnectionOptions>(connections =>
        {
            connections.ConfigureSiloInboundConnection(b => b.Use(next => context => OnlyRole(context, next, MoeRole.Internal, trust)));
            connections.ConfigureSiloOutboundConnection(b => b.Use(next => context => OnlyRole(context, next, MoeRole.Internal, trust)));
        });
        return silo;
    }

    static Task OnlyRole(ConnectionContext context, ConnectionDelegate next, MoeRole required, ClusterTrust trust)
    {
        X509Certificate2? remote = context.Features.Get<ITlsConnectionFeature>()?.RemoteCertificate;
        TrustedCertificate? trusted = remote is null ? null : trust.Check(remote, out _);
        if (trusted?.Role != required)
        {
            // A client or operator certificate on the silo-to-silo port: the connection ends before any message.
            context.Abort(new ConnectionAbortedException($"the silo port admits only '{MoeRoles.Name(required)}' certificates, not {trusted?.Identity ?? "this one"}"));
            return Task.CompletedTask;
        }
        return next(context);
    }
}
