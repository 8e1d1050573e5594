using MoeRuntime.Grains;
using Xunit.Abstractions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// The short version of loadtests/drift-scenario: Debian's Prometheus scrapes a silo with the repository's own rule files
/// (deploy/prometheus/rules, loaded where they are) while streams of loadtests/prompts/prose.txt run, then
/// numbers.txt. MoeRoutingDrift must stay inactive while the mix is steady and fire after the shift. The drift windows
/// are shortened through the silo's options (1 s slots, recent 3, baseline 8; telemetry every 0.5 s, so the cluster
/// gauges refresh every 2.5 s) and Prometheus scrapes and evaluates every second, so the test takes well under a minute
/// after the silo is up instead of the defaults' several minutes.
/// </summary>
public sealed class RoutingDriftAlertTests(ITestOutputHelper output)
{
    const string Token = "drift-alert-telemetry-token";
    const string Alert = "MoeRoutingDrift";
    /// <summary>One stream per prompt of a file, each stream always on its own prompt: every window sees the same mix.</summary>
    const int Streams = 5;
    const int MaxTokens = 8;
    /// <summary>Recent + baseline + the slot filling: prose must run this long before the windows hold only prose.</summary>
    static readonly TimeSpan Fill = TimeSpan.FromSeconds(3 + 8 + 1);
    static readonly TimeSpan SteadyWatch = TimeSpan.FromSeconds(8);
    static readonly TimeSpan FireLimit = TimeSpan.FromSeconds(25);

    [Fact]
    public async Task The_deployed_rule_stays_inactive_on_a_steady_mix_and_fires_after_a_shift_to_numbers()
    {
        string root = RepositoryRoot();
        string[] prose = Prompts(root, "prose.txt"), numbers = Prompts(root, "numbers.txt");
        await using LocalSilo silo = await LocalSilo.StartAsync("driftalert",
        [
            "--Telemetry:Tokens:0", Token, "--Moe:Telemetry:Interval=00:00:00.5",
            "--Moe:Telemetry:RoutingDrift:Slot=00:00:01", "--Moe:Telemetry:RoutingDrift:RecentSlots=3",
            "--Moe:Telemetry:RoutingDrift:BaselineSlots=8", "--Moe:Telemetry:RoutingDrift:MinChoices=200",
        ]);
        using var prometheus = await PrometheusServer.StartAsync(silo.Scratch("prometheus"), silo.Silo.HttpPort, Token,
            [Path.Combine(root, "deploy", "prometheus", "rules", "recording.yml"), Path.Combine(root, "deploy", "prometheus", "rules", "alerts.yml")]);
        string Diagnostics() => prometheus.StderrTail() + "\n" + prometheus.TargetsAsync().GetAwaiter().GetResult() + "\n" + silo.Diagnostics();

        // Streams run the current mix until stopped; bounded by a deadline and a count of requests.
        string[] mix = prose;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        IRouterGrain router = silo.Connection.Client.GetGrain<IRouterGrain>("default");
        int failures = 0;
        Task load = Task.WhenAll(Enumerable.Range(0, Streams).Select(s => Task.Run(async () =>
        {
            for (int i = s; i < 5000 && !stop.IsCancellationRequested; i += Streams)
            {
                string[] current = Volatile.Read(ref mix);
                StreamedRequest request = StreamedRequest.Start(router, current[i % current.Length], MaxTokens, stop.Token);
                await request.Ended;
                if (request.Error is not null && !stop.IsCancellationRequested) Interlocked.Increment(ref failures);
            }
        })));
        try
        {
            // Steady: once both windows hold prose only, the rule must stay inactive while Prometheus sees the gauge.
            await Task.Delay(Fill);
            double steadyMax = 0;
            int evaluations = 0;
            DateTime watchUntil = DateTime.UtcNow + SteadyWatch;
            while (DateTime.UtcNow < watchUntil)
            {
                AlertRuleState rule = await prometheus.AlertRuleAsync(Alert);
                Assert.True(rule.State == "inactive", $"{Alert} is {rule.State} on a steady prose mix: {Describe(rule)}\n{Diagnostics()}");
                steadyMax = Math.Max(steadyMax, await prometheus.QueryScalarAsync("max(moe_routing_drift_psi)") ?? 0);
                evaluations++;
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            output.WriteLine($"steady prose: {Alert} inactive over {evaluations} reads, max PSI in Prometheus {steadyMax:F4}");
            // PSI is exactly 0 until both windows hold MinChoices choices: a positive value proves the rule saw real data.
            Assert.True(steadyMax > 0, $"Prometheus never saw a positive moe_routing_drift_psi: the steady check proves nothing\n{Diagnostics()}");

            // Shift: numbers and code; the rule must fire (no `for`, so straight to firing) within the limit.
            Volatile.Write(ref mix, numbers);
            DateTime shifted = DateTime.UtcNow;
            AlertRuleState seen = await prometheus.AlertRuleAsync(Alert);
            while (!seen.Alerts.Any(a => a.State == "firing") && DateTime.UtcNow - shifted < FireLimit)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
                seen = await prometheus.AlertRuleAsync(Alert);
            }
            double? psi = await prometheus.QueryScalarAsync("max(moe_routing_drift_psi)");
            output.WriteLine($"after the shift ({(DateTime.UtcNow - shifted).TotalSeconds:F1} s): {Describe(seen)}; max PSI now {psi:F3}");
            AlertState? firing = seen.Alerts.FirstOrDefault(a => a.State == "firing");
            Assert.True(firing is not null, $"{Alert} did not fire within {FireLimit.TotalSeconds} s of the shift: {Describe(seen)}; max PSI {psi}\n{Diagnostics()}");
            Assert.Equal("ticket", firing.Labels["severity"]);
            Assert.Equal("default", firing.Labels["model"]);
            Assert.InRange(int.Parse(firing.Labels["layer"], System.Globalization.CultureInfo.InvariantCulture), 0, TelemetrySilo.Layers - 1);
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }
        Assert.True(failures == 0, $"{failures} requests failed\n{silo.Diagnostics()}");
    }

    static string Describe(AlertRuleState rule) =>
        $"rule {rule.State}, alerts [{string.Join(", ", rule.Alerts.Select(a => $"layer {a.Labels.GetValueOrDefault("layer")} {a.State} since {a.ActiveAt}"))}]";

    static string[] Prompts(string root, string file)
    {
        string[] prompts = File.ReadAllLines(Path.Combine(root, "loadtests", "prompts", file)).Where(l => l.Trim().Length > 0).ToArray();
        Assert.True(prompts.Length == Streams, $"loadtests/prompts/{file} has {prompts.Length} prompts; the test runs one stream per prompt ({Streams})");
        return prompts;
    }

    static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "MoeRuntime.sln"))) return directory.FullName;
        throw new InvalidOperationException($"no MoeRuntime.sln above {AppContext.BaseDirectory}");
    }
}
