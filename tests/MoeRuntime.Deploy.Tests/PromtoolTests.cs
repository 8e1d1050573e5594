using Xunit.Abstractions;

namespace MoeRuntime.Deploy.Tests;

/// <summary>deploy/prometheus checked by the real promtool: config, rule syntax, rule unit tests.</summary>
public sealed class PromtoolTests(ITestOutputHelper output)
{
    Promtool.Result RunAndAssert(params string[] args)
    {
        Promtool.Result result = Promtool.Run(args);
        output.WriteLine(result.Describe());
        Assert.True(result.ExitCode == 0, $"promtool failed:\n{result.Describe()}");
        return result;
    }

    [Fact]
    public void Promtool_is_installed()
    {
        Promtool.Result result = Promtool.Run("--version");
        output.WriteLine(result.Describe());
        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.Contains("promtool, version", result.Output);
    }

    [Fact]
    public void Scrape_config_is_valid()
    {
        Promtool.Result result = RunAndAssert("check", "config", "deploy/prometheus/prometheus.yml");
        Assert.Contains("SUCCESS", result.Output);
        // check config also checks the rule files it names.
        Assert.Contains("rules/recording.yml", result.Output);
        Assert.Contains("rules/alerts.yml", result.Output);
    }

    [Fact]
    public void Scrape_config_targets_the_three_local_ranks_every_5_seconds_with_a_bearer_token()
    {
        string config = File.ReadAllText(Path.Combine(Repo.Prometheus, "prometheus.yml"));
        Assert.Matches(@"(?m)^\s*scrape_interval:\s*5s\s*$", config);
        for (int rank = 0; rank < 3; rank++)
            Assert.Matches($@"(?m)^\s*- targets: \['127\.0\.0\.1:808{rank}'\]\s*\n\s*labels: {{ rank: '{rank}' }}", config);
        Assert.Matches(@"(?m)^\s*credentials_file:\s*\S+", config);
        Assert.Contains("file_sd_configs", config);
        Assert.Contains("kubernetes_sd_configs", config);
    }

    [Fact]
    public void Rules_are_valid()
    {
        Promtool.Result result = RunAndAssert("check", "rules",
            "deploy/prometheus/rules/recording.yml", "deploy/prometheus/rules/alerts.yml");
        Assert.DoesNotContain("FAILED", result.Output);
    }

    [Fact]
    public void Rule_unit_tests_pass()
    {
        string[] files = Repo.RuleTests();
        Assert.NotEmpty(files);
        Promtool.Result result = RunAndAssert(new[] { "test", "rules" }.Concat(files.Select(Repo.Relative)).ToArray());
        Assert.Equal(files.Length, result.Output.Split("SUCCESS").Length - 1);
    }

    /// <summary>Grafana's variables replaced by plain values, every panel query must parse as PromQL.</summary>
    [Fact]
    public void Dashboard_queries_are_valid_promql()
    {
        List<DashboardTests.Query> queries = DashboardTests.Queries();
        string dir = Directory.CreateTempSubdirectory("moe-dashboard-").FullName;
        try
        {
            string rules = Path.Combine(dir, "dashboard.yml");
            using (var writer = new StreamWriter(rules))
            {
                writer.WriteLine("groups:\n  - name: dashboard\n    rules:");
                foreach (DashboardTests.Query q in queries)
                {
                    string expr = q.Expr.Replace("$__rate_interval", "1m").Replace("$model", ".*")
                        .Replace("$rank", ".*").Replace("$layer", ".*");
                    writer.WriteLine($"      - record: dashboard:panel{q.PanelId}_{q.RefId}");
                    writer.WriteLine($"        expr: '{expr.Replace("'", "''")}'");
                }
            }
            RunAndAssert("check", "rules", rules);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
