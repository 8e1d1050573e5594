using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// A silo whose HTTP endpoints listen on every interface (<c>--http-bind 0.0.0.0</c>, plain HTTP allowed by
/// <c>--insecure-http</c>), reached with <c>curl</c> on 127.0.0.1 (nothing beyond this host): a viewer token scrapes
/// /metrics, no token is 401, a viewer token on the operator endpoint is 403 and an operator token is served there. The
/// start-up log warns about plain HTTP and names the tokens by fingerprint only; without the flag the silo refuses to start.
/// </summary>
public sealed partial class HttpExposureTests(HttpExposureTests.Silo silo) : IClassFixture<HttpExposureTests.Silo>
{
    const string ViewerToken = "exposure-viewer-token-0123456789";
    const string OperatorToken = "exposure-operator-token-0123456789";

    public sealed class Silo : IAsyncLifetime
    {
        LocalSilo? _silo;

        internal LocalSilo Local => _silo!;

        public async Task InitializeAsync() => _silo = await LocalSilo.StartAsync("http-exposure",
        [
            "--http-bind", "0.0.0.0", "--insecure-http", "true",
            "--Telemetry:Tokens:0", ViewerToken, "--Telemetry:OperatorTokens:0", OperatorToken,
            "--Moe:Telemetry:PseudonymKey", "exposure-cluster-secret-0123456789abcdef",
        ]);

        public async Task DisposeAsync()
        {
            if (_silo is not null) await _silo.DisposeAsync();
        }
    }

    [Fact]
    public async Task CurlScrapesMetricsWithAViewerTokenAndIsRefusedWithoutOneOrWithTheWrongRole()
    {
        string metrics = $"http://127.0.0.1:{silo.Local.Silo.HttpPort}/metrics";
        string tenant = $"http://127.0.0.1:{silo.Local.Silo.HttpPort}/v1/telemetry/tenants/acme";

        var (status, body) = await CurlAsync("GET", metrics, ViewerToken);
        Assert.True(status == 200, $"/metrics with the viewer token: {status}\n{body}");
        Assert.Contains("# TYPE moe_", body);

        Assert.Equal(401, (await CurlAsync("GET", metrics, token: null)).Status);
        Assert.Equal(401, (await CurlAsync("GET", metrics + "?token=" + ViewerToken, token: null)).Status);
        Assert.Equal(401, (await CurlAsync("DELETE", tenant, token: null)).Status);

        (status, body) = await CurlAsync("DELETE", tenant, ViewerToken);
        Assert.True(status == 403, $"DELETE a tenant with the viewer token: {status}\n{body}");
        Assert.Contains("needs an operator token", body);

        (status, body) = await CurlAsync("DELETE", tenant, OperatorToken);
        Assert.True(status == 200, $"DELETE a tenant with the operator token: {status}\n{body}");
        Assert.Matches("\"pseudonym\":\"[0-9a-f]{16}\"", body);
        Assert.DoesNotContain("acme", body);

        // The operator token reads what a viewer reads.
        Assert.Equal(200, (await CurlAsync("GET", metrics, OperatorToken)).Status);
    }

    [Fact]
    public async Task WithACertificateTheSiloServesHttpsBeyondLoopbackWithoutTheInsecureFlag()
    {
        string directory = Directory.CreateTempSubdirectory("moe-https-").FullName;
        try
        {
            // A self-signed certificate for 127.0.0.1, as a password-protected PKCS#12 for the silo and a PEM for curl to trust.
            using RSA key = RSA.Create(2048);
            var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(System.Net.IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
            request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            string pfx = Path.Combine(directory, "http.pfx"), pem = Path.Combine(directory, "http.pem");
            File.WriteAllBytes(pfx, certificate.Export(X509ContentType.Pkcs12, "pfx-password"));
            File.WriteAllText(pem, certificate.ExportCertificatePem());

            await using LocalSilo secure = await LocalSilo.StartAsync("https",
            [
                "--http-bind", "0.0.0.0", "--https-certificate", pfx, "--Silo:HttpsCertificatePassword", "pfx-password",
                "--Telemetry:Tokens:0", ViewerToken,
            ], https: true);
            string metrics = $"https://127.0.0.1:{secure.Silo.HttpPort}/metrics";
            var (status, body) = await CurlAsync("GET", metrics, ViewerToken, ["--cacert", pem]);
            Assert.True(status == 200, $"/metrics over HTTPS with the viewer token: {status}\n{body}");
            Assert.Contains("# TYPE moe_", body);
            Assert.Equal(401, (await CurlAsync("GET", metrics, token: null, ["--cacert", pem])).Status);
            Assert.DoesNotContain("without HTTPS", File.ReadAllText(secure.Process.StderrPath));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task LivezAnswersWithoutATokenAndSaysOnlyThatTheProcessIsUp()
    {
        var (status, body) = await CurlAsync("GET", $"http://127.0.0.1:{silo.Local.Silo.HttpPort}/livez", token: null);
        Assert.True(status == 200, $"/livez without a token: {status}\n{body}");
        Assert.Equal("{\"status\":\"alive\"}", body.Trim());
    }

    [Fact]
    public void TheStartUpLogWarnsAboutPlainHttpAndNamesTokensByFingerprintOnly()
    {
        string log = File.ReadAllText(silo.Local.Process.StderrPath) + File.ReadAllText(silo.Local.Process.StdoutPath);
        Assert.Contains("without HTTPS (Silo:AllowInsecureHttp)", log);
        Assert.Contains("1 viewer and 1 operator tokens", log);
        Assert.DoesNotContain(ViewerToken, log);
        Assert.DoesNotContain(OperatorToken, log);
    }

    [Fact]
    public async Task WithoutTheFlagAPlainHttpBindBeyondLoopbackRefusesToStart()
    {
        string logs = Directory.CreateTempSubdirectory("moe-silo-exposure-").FullName;
        try
        {
            using var refused = ChildProcess.Start("silo", logs, Binaries.Dotnet,
                [Binaries.Silo, "--clustering", "localhost", "--rank", "0", "--silo-port", "0", "--gateway-port", "0", "--http-port", "0", "--http-bind", "0.0.0.0"]);
            Assert.True(await refused.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the silo kept running on 0.0.0.0 without HTTPS");
            string stderr = File.ReadAllText(refused.StderrPath).Trim();
            Assert.True(refused.ExitCode == 2, $"exit {refused.ExitCode}: {stderr}");
            Assert.StartsWith("moe-silo: Silo:HttpBind is 0.0.0.0, beyond loopback, without HTTPS", stderr);
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }

    /// <summary>curl's status code and body; the token goes in an Authorization header when given.</summary>
    async Task<(int Status, string Body)> CurlAsync(string method, string url, string? token, string[]? options = null)
    {
        string directory = silo.Local.Scratch("curl");
        string run = Guid.NewGuid().ToString("N");
        string bodyFile = Path.Combine(directory, $"body-{run}");
        List<string> arguments = ["--silent", "--show-error", "--max-time", "20", "--request", method, "--output", bodyFile, "--write-out", "%{http_code}"];
        if (token is not null) arguments.AddRange(["--header", $"Authorization: Bearer {token}"]);
        arguments.AddRange(options ?? []);
        arguments.Add(url);
        using var curl = ChildProcess.Start($"curl-{run}", directory, "/usr/bin/curl", arguments);
        Assert.True(await curl.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"curl {method} {url} did not finish");
        Assert.True(curl.ExitCode == 0, $"curl {method} {url} failed with {curl.ExitCode}: {curl.StderrTail()}");
        string status = curl.Stdout().Trim();
        Assert.Matches(StatusCode(), status);
        return (int.Parse(status), File.Exists(bodyFile) ? File.ReadAllText(bodyFile) : "");
    }

    [GeneratedRegex("^[0-9]{3}$")]
    private static partial Regex StatusCode();
}
