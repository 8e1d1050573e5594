using System.Text.RegularExpressions;

namespace MoeRuntime.Deploy.Tests;

/// <summary>What the rules and their tests must contain, beyond what promtool checks.</summary>
public sealed class RuleTests
{
    [Fact]
    public void Every_moe_metric_in_the_rules_and_their_tests_is_in_the_catalogue()
    {
        Catalogue catalogue = Catalogue.Load();
        var files = new[] { Repo.RecordingRules, Repo.AlertRules }.Concat(Repo.RuleTests());
        var unknown = (from file in files
                       from name in Names.Metrics(File.ReadAllText(file))
                       where !catalogue.Exports(name)
                       select $"{Repo.Relative(file)}: {name}")
            .Concat(from file in files
                    from name in Names.ClusterLatencyMetrics(File.ReadAllText(file))
                    where !catalogue.IsHistogram(name)
                    select $"{Repo.Relative(file)}: metric=\"{name}\" is not a catalogue histogram").ToList();
        Assert.True(unknown.Count == 0, "Not in docs/metrics.md (nor a moe_cluster_* series):\n" + string.Join("\n", unknown));
    }

    [Fact]
    public void Every_recording_rule_used_is_defined()
    {
        HashSet<string> defined = Names.DefinedRecordingRules();
        Assert.Contains("moe:request_duration_seconds:p95_5m", defined);
        var files = new[] { Repo.AlertRules, Repo.Dashboard, Repo.Runbooks }.Concat(Repo.RuleTests());
        var undefined = (from file in files
                         from name in Names.Recorded(File.ReadAllText(file))
                         where !defined.Contains(name)
                         select $"{Repo.Relative(file)}: {name}").ToList();
        Assert.True(undefined.Count == 0, "Used but not recorded in recording.yml:\n" + string.Join("\n", undefined));
    }

    [Fact]
    public void Every_recording_rule_has_a_value_test()
    {
        string tests = string.Concat(Repo.RuleTests().Select(File.ReadAllText));
        var untested = Names.DefinedRecordingRules()
            .Where(name => !Regex.IsMatch(tests, $@"(?m)^\s*-\s*expr:.*(?<![\w:]){Regex.Escape(name)}(?![\w:])")).ToList();
        Assert.True(untested.Count == 0, "Recording rules without a promql_expr_test:\n" + string.Join("\n", untested));
    }

    [Fact]
    public void The_error_ratio_rules_leave_out_exactly_the_client_caused_error_types_of_the_catalogue()
    {
        Match listed = Regex.Match(File.ReadAllText(Repo.Catalogue), @"(?m)^Client-caused error types: (.+)\.$");
        Assert.True(listed.Success, "docs/metrics.md has no 'Client-caused error types: ...' line (MetricsDocument writes it)");
        var expected = Regex.Matches(listed.Groups[1].Value, "`([a-z_]+)`").Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(expected);

        string[] blocks = Regex.Split(File.ReadAllText(Repo.RecordingRules), @"(?m)^(?=\s*-\s*(?:record|name):)");
        var rules = blocks.Where(b => Regex.IsMatch(b, @"^\s*-\s*record:\s*moe:error_ratio:")).ToList();
        Assert.True(rules.Count >= 4, $"expected the moe:error_ratio:* rules in recording.yml, found {rules.Count}");
        // The SLO period (seed: a rolling 7 days) is one of the windows.
        Assert.Contains(rules, r => Regex.IsMatch(r, @"record:\s*moe:error_ratio:rate7d\s") && Regex.Matches(r, @"\[7d\]").Count == 3);
        var problems = new List<string>();
        foreach (string rule in rules)
        {
            string name = Regex.Match(rule, @"record:\s*(\S+)").Groups[1].Value;
            var selectors = Regex.Matches(rule, @"moe_requests_total\{([^}]*)\}").Select(m => m.Groups[1].Value).ToList();
            if (selectors.Count < 3) problems.Add($"{name}: bad, or-zero and valid selectors expected, found {selectors.Count}");
            foreach (string selector in selectors)
            {
                Match excluded = Regex.Match(selector, @"error_type!~""([^""]*)""");
                var actual = excluded.Success ? excluded.Groups[1].Value.Split('|').Order(StringComparer.Ordinal).ToList() : [];
                if (!actual.SequenceEqual(expected))
                    problems.Add($"{name}: {{{selector}}} must exclude error_type!~\"{string.Join('|', expected)}\"");
            }
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void The_alerts_the_issue_asks_for_exist()
    {
        List<string> alerts = Names.Alerts();
        Assert.Equal(alerts.Count, alerts.Distinct().Count());
        foreach (string name in new[]
                 {
                     "MoeLatencyP95High", "MoeLatencyP50High", "MoeTtftP95High", "MoeHighErrorRate",
                     "MoeAvailabilityBurnRateFast", "MoeAvailabilityBurnRateSlow", "MoeQueueBacklog",
                     "MoeTierOverBudget", "MoeForcedEvictions", "MoeTierFetchStalls", "MoeRoutingMismatch",
                     "MoeLatencyP99High", "MoeInterTokenLatencyP95High", "MoeThroughputBelowBaseline", "MoeDeviceErrors",
                     "MoeAvailabilitySlo7dMissed", "MoeColdMissSpike", "MoePrefetchWaste",
                     "MoeIntegrityCheckFailures", "MoeTelemetryAccessDenials", "MoeStaleRanks",
                 })
            Assert.Contains(name, alerts);
        // Fullness is the latency controller's steady state (hot tier at ~95 % of its limit), not an alert.
        Assert.DoesNotContain("MoeTierMemoryPressure", alerts);
    }

    [Fact]
    public void Every_alert_has_severity_summary_description_and_a_runbook_that_exists()
    {
        string text = File.ReadAllText(Repo.AlertRules);
        var anchors = Regex.Matches(File.ReadAllText(Repo.Runbooks), @"(?m)^## (\S+)\s*$")
            .Select(m => m.Groups[1].Value.ToLowerInvariant()).ToHashSet();
        string[] blocks = Regex.Split(text, @"(?m)^(?=\s*-\s*(?:alert|name):)");
        var problems = new List<string>();
        foreach (string block in blocks)
        {
            Match alert = Regex.Match(block, @"^\s*-\s*alert:\s*(\S+)");
            if (!alert.Success) continue;
            string name = alert.Groups[1].Value;
            if (!Regex.IsMatch(block, @"(?m)^\s*severity:\s*(page|ticket)\s*$")) problems.Add($"{name}: severity page|ticket");
            if (!Regex.IsMatch(block, @"(?m)^\s*summary:\s*\S")) problems.Add($"{name}: summary");
            if (!Regex.IsMatch(block, @"(?m)^\s*description:\s*\S")) problems.Add($"{name}: description");
            Match runbook = Regex.Match(block, @"(?m)^\s*runbook_url:\s*""?deploy/runbooks\.md#([a-z0-9-]+)""?\s*$");
            if (!runbook.Success) problems.Add($"{name}: runbook_url deploy/runbooks.md#<anchor>");
            else if (!anchors.Contains(runbook.Groups[1].Value)) problems.Add($"{name}: no '## ' heading for #{runbook.Groups[1].Value} in deploy/runbooks.md");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void Every_alert_has_a_test_case_that_fires_and_one_that_does_not()
    {
        string tests = string.Concat(Repo.RuleTests().Select(File.ReadAllText));
        var cases = Regex.Matches(tests,
            @"-\s*alertname:\s*(\S+)\s*\n\s*eval_time:\s*\S+\s*\n\s*exp_alerts:[ \t]*(\[\s*\])?[ \t]*\n(\s*-\s*exp_labels:)?");
        Assert.Equal(Regex.Matches(tests, @"alertname:").Count, cases.Count);
        var problems = new List<string>();
        foreach (string alert in Names.Alerts())
        {
            var mine = cases.Where(c => c.Groups[1].Value == alert).ToList();
            if (!mine.Any(c => c.Groups[3].Success)) problems.Add($"{alert}: no case where it fires");
            if (!mine.Any(c => c.Groups[2].Success)) problems.Add($"{alert}: no case where it stays quiet");
        }
        var unknown = cases.Select(c => c.Groups[1].Value).Distinct().Except(Names.Alerts()).ToList();
        problems.AddRange(unknown.Select(a => $"{a}: tested but not defined"));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
