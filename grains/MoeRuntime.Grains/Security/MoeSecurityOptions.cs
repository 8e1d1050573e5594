namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// Who may connect and what they may call (section <c>Moe:Security</c>). Off by default: the one-command run on
/// localhost has no TLS and logs that it is insecure. With <see cref="Tls"/> on, silo-to-silo and client-to-gateway
/// links are mutual TLS with certificates of the cluster's CA, and roles are checked on every grain call
/// (docs/security.md).
/// </summary>
public sealed class MoeSecurityOptions
{
    public const string Section = "Moe:Security";

    /// <summary>Mutual TLS on the silo and gateway ports; needs the three files below.</summary>
    public bool Tls { get; set; }
    /// <summary>This silo's certificate with its private key (PKCS#12), carrying the role <c>internal</c>.</summary>
    public string Certificate { get; set; } = "";
    /// <summary>The password of <see cref="Certificate"/>; empty for none. Prefer the environment (MOE_Moe__Security__CertificatePassword).</summary>
    public string CertificatePassword { get; set; } = "";
    /// <summary>The cluster CA's certificate (PEM or DER): the only issuer silos and clients trust.</summary>
    public string CertificateAuthority { get; set; } = "";
    /// <summary>
    /// The file holding the internal call key (hex, at least 32 bytes), shared by the silos only: every call a silo
    /// makes carries a proof under it, which is what makes a caller <c>internal</c>. Required with TLS.
    /// </summary>
    public string InternalKeyFile { get; set; } = "";
    /// <summary>Lets a silo bound to a non-loopback address start without TLS (anyone who reaches its ports can then call anything an operator can).</summary>
    public bool AllowInsecureRemote { get; set; }
    /// <summary>
    /// Without TLS: the role of a caller that proves nothing (<c>client</c>, <c>operator</c> or <c>internal</c>).
    /// <c>operator</c> keeps the <c>moe</c> tools working on a development machine while clients still cannot call
    /// experts or ship telemetry. Ignored with TLS, where such a caller is a <c>client</c>.
    /// </summary>
    public string AnonymousRole { get; set; } = "operator";
}
