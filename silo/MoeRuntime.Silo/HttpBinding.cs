using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Silo;

/// <summary>
/// Where the HTTP endpoints listen: <c>Silo:HttpBind</c> and <c>Silo:HttpPort</c>, over HTTPS when
/// <c>Silo:HttpsCertificatePath</c> names a certificate. The options check has already refused plain HTTP beyond loopback
/// unless <c>Silo:AllowInsecureHttp</c> is set; that case is logged as a warning at start.
/// </summary>
static partial class HttpBinding
{
    public static void UseHttpListener(this IWebHostBuilder web, SiloHostOptions host)
    {
        IPAddress bind = IPAddress.Parse(host.HttpBind);
        X509Certificate2? certificate = string.IsNullOrWhiteSpace(host.HttpsCertificatePath) ? null : Load(host);
        web.ConfigureKestrel(kestrel => kestrel.Listen(bind, host.HttpPort, listen =>
        {
            if (certificate is not null) listen.UseHttps(certificate);
        }));
    }

    public static void WarnAboutPlainHttp(this WebApplication app, SiloHostOptions host)
    {
        if (string.IsNullOrWhiteSpace(host.HttpsCertificatePath) && !IPAddress.IsLoopback(IPAddress.Parse(host.HttpBind)))
            PlainHttpBeyondLoopback(app.Logger, host.HttpBind, host.HttpPort);
    }

    /// <summary>The certificate, or a configuration error (exit code 2) naming the file and why it could not be read.</summary>
    static X509Certificate2 Load(SiloHostOptions host)
    {
        try
        {
            X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12FromFile(host.HttpsCertificatePath,
                string.IsNullOrEmpty(host.HttpsCertificatePassword) ? null : host.HttpsCertificatePassword);
            if (!certificate.HasPrivateKey)
                throw new InvalidOperationException($"Silo:HttpsCertificatePath '{host.HttpsCertificatePath}' holds no private key");
            return certificate;
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"Silo:HttpsCertificatePath '{host.HttpsCertificatePath}' could not be read as PKCS#12 (wrong Silo:HttpsCertificatePassword?): {e.Message}", e);
        }
    }

    [LoggerMessage(EventId = 1701, Level = LogLevel.Warning,
        Message = "HTTP listens on {Bind}:{Port} without HTTPS (Silo:AllowInsecureHttp): tokens and telemetry cross the network in clear")]
    static partial void PlainHttpBeyondLoopback(ILogger logger, string bind, int port);
}
