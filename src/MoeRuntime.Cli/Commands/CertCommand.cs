using System.CommandLine;
using System.Security.Cryptography.X509Certificates;
using MoeRuntime.Security;

namespace MoeRuntime.Cli.Commands;

/// <summary>
/// <c>moe cert</c>: a development certificate authority and the certificates of a cluster (docs/security.md): one
/// <c>internal</c> certificate per silo, an operator's and a client's, and the silos' internal call key.
/// </summary>
static class CertCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory to write into (created); an existing ca.pfx there is reused", Required = true };
        var silos = new Option<int>("--silos") { Description = "Silo certificates to make: silo-0.pfx ...", DefaultValueFactory = _ => 3 };
        var operatorName = new Option<string>("--operator") { Description = "Common name of the operator certificate (operator.pfx)", DefaultValueFactory = _ => "operator" };
        var clientName = new Option<string>("--client") { Description = "Common name of the client certificate (client.pfx)", DefaultValueFactory = _ => "client" };
        var hosts = new Option<string[]>("--host") { Description = "Extra DNS names or IP addresses for the silo certificates (repeatable)", AllowMultipleArgumentsPerToken = true };
        var password = new Option<string>("--password") { Description = "Password of the .pfx files (default: $MOE_CERT_PASSWORD, else none)" };
        var days = new Option<int>("--days") { Description = "Validity in days", DefaultValueFactory = _ => 365 };
        var command = new Command("cert", "Make a development CA, silo/operator/client certificates and the silos' internal call key")
        {
            output, silos, operatorName, clientName, hosts, password, days,
        };
        command.SetAction(result =>
        {
            string directory = result.GetValue(output)!;
            int count = result.GetValue(silos);
            if (count < 0) throw new ArgumentException($"--silos must be 0 or more, was {count}");
            int validDays = result.GetValue(days);
            if (validDays < 1) throw new ArgumentException($"--days must be at least 1, was {validDays}");
            string pfxPassword = result.GetValue(password) ?? Environment.GetEnvironmentVariable("MOE_CERT_PASSWORD") ?? "";
            foreach (string written in Write(directory, count, result.GetValue(operatorName)!, result.GetValue(clientName)!,
                         result.GetValue(hosts) ?? [], pfxPassword, TimeSpan.FromDays(validDays)))
                Console.WriteLine(written);
            return 0;
        });
        return command;
    }

    /// <summary>Writes the files and returns their paths with what each is for.</summary>
    public static IEnumerable<string> Write(string directory, int silos, string operatorName, string clientName, string[] hosts, string password, TimeSpan validity)
    {
        Directory.CreateDirectory(directory);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string caPfx = Path.Combine(directory, "ca.pfx");
        using X509Certificate2 ca = File.Exists(caPfx)
            ? DevCertificateAuthority.LoadPfx(caPfx, password.Length == 0 ? null : password)
            : DevCertificateAuthority.CreateAuthority("MoeRuntime development CA", validity + TimeSpan.FromDays(1));
        var lines = new List<string>();
        if (!File.Exists(caPfx))
        {
            DevCertificateAuthority.WritePfx(ca, caPfx, password);
            lines.Add($"{caPfx}\tthe CA with its key: keep it offline; moe cert reuses it to issue more");
        }
        string caPem = Path.Combine(directory, "ca.crt");
        DevCertificateAuthority.WritePem(ca, caPem);
        lines.Add($"{caPem}\tthe CA certificate every silo and client trusts (Moe:Security:CertificateAuthority, --ca)");
        for (int r = 0; r < silos; r++)
        {
            using X509Certificate2 silo = DevCertificateAuthority.Issue(ca, $"silo-{r}", MoeRole.Internal, validity, hosts);
            string path = Path.Combine(directory, $"silo-{r}.pfx");
            DevCertificateAuthority.WritePfx(silo, path, password);
            lines.Add($"{path}\trank {r}'s certificate, role internal (Moe:Security:Certificate)");
        }
        foreach (var (name, role, file) in new[] { (operatorName, MoeRole.Operator, "operator.pfx"), (clientName, MoeRole.Client, "client.pfx") })
        {
            using X509Certificate2 issued = DevCertificateAuthority.Issue(ca, name, role, validity);
            string path = Path.Combine(directory, file);
            DevCertificateAuthority.WritePfx(issued, path, password);
            lines.Add($"{path}\t{MoeRoles.Name(role)} '{name}' (moe --cert, moe-load --cert)");
        }
        string key = Path.Combine(directory, "internal.key");
        if (!File.Exists(key))
        {
            File.WriteAllText(key, InternalCallProof.NewKeyHex() + "\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        lines.Add($"{key}\tthe silos' internal call key, for silos only (Moe:Security:InternalKeyFile)");
        return lines;
    }
}
