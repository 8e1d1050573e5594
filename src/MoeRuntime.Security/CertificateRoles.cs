using System.Formats.Asn1;
using System.Security.Cryptography.X509Certificates;

namespace MoeRuntime.Security;

/// <summary>
/// The scheme that maps a certificate to a role: a subject-alternative-name URI <c>moe-role:client</c>,
/// <c>moe-role:operator</c> or <c>moe-role:internal</c> (silos). A certificate with none, or with two different ones,
/// has no role and is refused. The identity recorded as an author is <c>role:common-name#thumbprint-prefix</c>.
/// </summary>
public static class CertificateRoles
{
    /// <summary>The URI scheme of the role name.</summary>
    public const string UriScheme = "moe-role";
    const string SubjectAltNameOid = "2.5.29.17";
    static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);

    /// <summary>The role a certificate carries, or <see cref="MoeRole.None"/>.</summary>
    public static MoeRole RoleOf(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        MoeRole found = MoeRole.None;
        foreach (string uri in SubjectAltNameUris(certificate))
        {
            if (!uri.StartsWith(UriScheme + ":", StringComparison.OrdinalIgnoreCase)) continue;
            if (!MoeRoles.TryParse(uri[(UriScheme.Length + 1)..], out MoeRole role)) return MoeRole.None;
            if (found != MoeRole.None && found != role) return MoeRole.None;
            found = role;
        }
        return found;
    }

    /// <summary>The identity of a certificate's holder as recorded in TierSets, pins and decisions.</summary>
    public static string IdentityOf(X509Certificate2 certificate, MoeRole role)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        string name = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return $"{MoeRoles.Name(role)}:{(name.Length == 0 ? "unnamed" : name)}#{certificate.Thumbprint[..12].ToLowerInvariant()}";
    }

    /// <summary>The URIs among a certificate's subject alternative names.</summary>
    public static IReadOnlyList<string> SubjectAltNameUris(X509Certificate2 certificate)
    {
        var uris = new List<string>();
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid) continue;
            try
            {
                var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
                AsnReader names = reader.ReadSequence();
                while (names.HasData)
                {
                    if (names.PeekTag().HasSameClassAndValue(UriTag)) uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, UriTag));
                    else names.ReadEncodedValue();
                }
            }
            catch (AsnContentException)
            {
                // A malformed extension carries no role.
                return [];
            }
        }
        return uris;
    }
}
