using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// Debian's <c>prometheus</c> on a free loopback port, scraping one target's /metrics every second with
/// a bearer token read from a file, its TSDB in <paramref name="directory"/>, optionally evaluating rule files
/// every second; queried over its HTTP API.
/// </summary>
sealed class PrometheusServer : IDisposable
{
    const string Executable = "/usr/bin/prometheus";
    readonly ChildProcess _process;
    readonly HttpClient _http;

    PrometheusServer(ChildProcess process, int port)
    {
        _process = process;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
    }

    /// <param name="ruleFiles">Rule files loaded where they are (absolute paths), evaluated every second.</param>
    public static async Task<PrometheusServer> StartAsync(string directory, int targetPort, string token, IReadOnlyList<string>? ruleFiles = null)
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: apt-get install prometheus (tests/run does)");
        string tokenFile = Path.Combine(directory, "metrics.token");
        File.WriteAllText(tokenFile, token);
        string config = Path.Combine(directory, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files: [{string.Join(", ", (ruleFiles ?? []).Select(f => $"'{f}'"))}]
            scrape_configs:
              - job_name: moe-silo
                honor_labels: true
                authorization:
                  type: Bearer
                  credentials_file: {tokenFile}
                static_configs:
                  - targets: ['127.0.0.1:{targetPort}']
            """);
        int port = FreePorts.Take(1)[0];
        var process = ChildProcess.Start("prometheus", directory, Executable,
        [
            $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "tsdb")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
        ]);
        var server = new PrometheusServer(process, port);
        await Eventually.UntilAsync($"prometheus on port {port} is ready", TimeSpan.FromSeconds(30), async () =>
        {
            if (process.HasExited) throw new Xunit.Sdk.XunitException($"prometheus exited with code {process.ExitCode}\n{process.StderrTail()}");
            using HttpResponseMessage ready = await server._http.GetAsync("/-/ready");
            return ready.IsSuccessStatusCode;
        }, () => process.StderrTail());
        return server;
    }

    /// <summary>The value of an instant query that yields one series; null while it yields none.</summary>
    public async Task<double?> QueryScalarAsync(string promql)
    {
        using JsonDocument answer = (await _http.GetFromJsonAsync<JsonDocument>($"/api/v1/query?query={Uri.EscapeDataString(promql)}"))!;
        JsonElement result = answer.RootElement.GetProperty("data").GetProperty("result");
        if (result.GetArrayLength() == 0) return null;
        Assert.True(result.GetArrayLength() == 1, $"{promql} yields {result.GetArrayLength()} series: {result}");
        return double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);
    }

    /// <summary>An alerting rule's state (inactive, pending, firing) and its active alerts' labels and states (/api/v1/rules).</summary>
    public async Task<AlertRuleState> AlertRuleAsync(string name)
    {
        using JsonDocument answer = (await _http.GetFromJsonAsync<JsonDocument>("/api/v1/rules?type=alert"))!;
        foreach (JsonElement group in answer.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray())
        {
            foreach (JsonElement rule in group.GetProperty("rules").EnumerateArray())
            {
                if (rule.GetProperty("name").GetString() != name) continue;
                AlertState[] alerts = rule.TryGetProperty("alerts", out JsonElement list)
                    ? list.EnumerateArray().Select(a => new AlertState(
                        a.GetProperty("labels").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString() ?? ""),
                        a.GetProperty("state").GetString()!, a.GetProperty("activeAt").GetString()!)).ToArray()
                    : [];
                return new AlertRuleState(rule.GetProperty("state").GetString()!, alerts);
            }
        }
        throw new Xunit.Sdk.XunitException($"prometheus has no alerting rule {name}: {answer.RootElement}");
    }

    /// <summary>The scrape target's health and last error, for assertion messages.</summary>
    public async Task<string> TargetsAsync()
    {
        try
        {
            return await _http.GetStringAsync("/api/v1/targets");
        }
        catch (HttpRequestException e)
        {
            return $"(targets unavailable: {e.Message})";
        }
    }

    public string StderrTail() => _process.StderrTail(15);

    public void Dispose()
    {
        _http.Dispose();
        _process.Dispose();
    }
}

/// <summary>An alerting rule as Prometheus evaluates it.</summary>
sealed record AlertRuleState(string State, IReadOnlyList<AlertState> Alerts);

/// <summary>One active alert: its labels, pending or firing, and since when (Prometheus's time, RFC 3339).</summary>
sealed record AlertState(IReadOnlyDictionary<string, string> Labels, string State, string ActiveAt);
