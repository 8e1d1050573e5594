using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace MoeRuntime.Deploy.Tests;

/// <summary>
/// deploy/kubernetes, offline: every overlay renders with kubectl kustomize, every rendered object validates against the
/// Kubernetes and Prometheus Operator schemas (kubernetes-models, pinned in deploy/kubernetes/validate), the generated
/// PrometheusRule and dashboard ConfigMap equal their one source, and the PrometheusRule's expressions pass promtool.
/// </summary>
public sealed class KubernetesTests(ITestOutputHelper output)
{
    public static TheoryData<string> Overlays => new(Kubernetes.Overlays);

    [Theory]
    [MemberData(nameof(Overlays))]
    public void The_overlay_renders_and_every_object_validates(string overlay)
    {
        List<JsonObject> objects = Kubernetes.Objects(overlay);
        output.WriteLine(string.Join("\n", objects.Select(o => $"{o["apiVersion"]} {o["kind"]}/{o["metadata"]!["name"]}")));
        foreach (JsonObject o in objects)
            Assert.True((string?)o["metadata"]!["namespace"] == "moeruntime" || (string?)o["kind"] == "Namespace",
                $"{o["kind"]}/{o["metadata"]!["name"]} is not in the namespace moeruntime");
        JsonObject silos = Kubernetes.Single(objects, "StatefulSet", "moe-silo");
        Assert.Equal("moe-silo-peers", (string?)silos["spec"]!["serviceName"]);
        JsonObject peers = Kubernetes.Single(objects, "Service", "moe-silo-peers");
        Assert.Equal("None", (string?)peers["spec"]!["clusterIP"]);
        Kubernetes.Single(objects, "Service", "moe-silo");
        Kubernetes.Single(objects, "PodDisruptionBudget");
        Kubernetes.Single(objects, "NetworkPolicy");
        Kubernetes.Single(objects, "ServiceMonitor");
        Kubernetes.Single(objects, "PrometheusRule");
        JsonObject dashboard = Kubernetes.Single(objects, "ConfigMap", "moe-runtime-dashboard");
        Assert.Equal("1", (string?)dashboard["metadata"]!["labels"]!["grafana_dashboard"]);
        JsonNode pod = silos["spec"]!["template"]!["spec"]!;
        if (overlay == "builtin")
            Assert.Contains("init", pod["initContainers"]![0]!["command"]!.AsArray().Select(a => (string?)a));
        else
            Assert.Equal("moe-checkpoint", (string?)pod["volumes"]!.AsArray().Single(v => (string?)v!["name"] == "models")!["persistentVolumeClaim"]!["claimName"]);
    }

    [Fact]
    public void A_broken_object_fails_validation_naming_the_object_and_the_field()
    {
        string yaml = Kubernetes.Render("builtin");
        Assert.Contains("containerPort: 8080", yaml);
        Tool.Result broken = Kubernetes.Validate(yaml.Replace("containerPort: 8080", "containerPort: http"));
        output.WriteLine(broken.Describe());
        Assert.Equal(1, broken.ExitCode);
        Assert.Contains("StatefulSet/moe-silo: /spec/template/spec/containers/0/ports/2/containerPort must be integer", broken.Stderr);

        Tool.Result unknown = Kubernetes.Validate("apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("Widget/w: apiVersion 'example.com/v1' has no schema here", unknown.Stderr);

        Tool.Result monitor = Kubernetes.Validate(yaml.Replace("honorLabels: true", "honorLabels: always"));
        Assert.Equal(1, monitor.ExitCode);
        Assert.Contains("ServiceMonitor/moe-silo: /spec/endpoints/0/honorLabels must be boolean", monitor.Stderr);
    }

    [Fact]
    public void The_PrometheusRule_holds_exactly_the_groups_of_the_rules_files_and_promtool_accepts_them()
    {
        JsonObject rule = Kubernetes.Single(Kubernetes.Objects("builtin"), "PrometheusRule");
        JsonArray groups = rule["spec"]!["groups"]!.AsArray();

        string[] sources = Directory.GetFiles(Path.Combine(Repo.Prometheus, "rules"), "*.yml").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(sources);
        var expected = new JsonArray();
        foreach (JsonNode? file in Kubernetes.YamlFiles(sources))
            foreach (JsonNode? group in file!["groups"]!.AsArray())
                expected.Add(group!.DeepClone());
        Assert.True(JsonNode.DeepEquals(expected, groups),
            "deploy/kubernetes/base/generated/prometheusrule.yaml differs from deploy/prometheus/rules/*.yml: run `bash deploy/kubernetes/generate.sh`");

        // Back to a rules file (JSON is YAML), checked by promtool like the sources are.
        string dir = Directory.CreateTempSubdirectory("moe-prometheusrule-").FullName;
        try
        {
            string file = Path.Combine(dir, "prometheusrule.yml");
            File.WriteAllText(file, new JsonObject { ["groups"] = groups.DeepClone() }.ToJsonString());
            Promtool.Result result = Promtool.Run("check", "rules", file);
            output.WriteLine(result.Describe());
            Assert.True(result.ExitCode == 0, result.Describe());
            int rules = groups.Sum(g => g!["rules"]!.AsArray().Count);
            Assert.Contains($"SUCCESS: {rules} rules found", result.Output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_dashboard_ConfigMap_holds_exactly_the_Grafana_dashboard()
    {
        JsonObject map = Kubernetes.Single(Kubernetes.Objects("builtin"), "ConfigMap", "moe-runtime-dashboard");
        JsonNode generated = JsonNode.Parse((string)map["data"]!["moe-runtime.json"]!)!;
        JsonNode source = JsonNode.Parse(File.ReadAllText(Repo.Dashboard))!;
        Assert.True(JsonNode.DeepEquals(source, generated),
            "deploy/kubernetes/base/generated/grafana-dashboard.yaml differs from deploy/grafana/moe-runtime.json: run `bash deploy/kubernetes/generate.sh`");
    }

    [Fact]
    public void The_generator_writes_what_is_committed()
    {
        string dir = Directory.CreateTempSubdirectory("moe-generated-").FullName;
        try
        {
            Tool.Result result = Tool.Run("/bin/bash", [Path.Combine(Kubernetes.Root, "generate.sh"), dir]);
            Assert.True(result.ExitCode == 0, result.Describe());
            foreach (string name in new[] { "prometheusrule.yaml", "grafana-dashboard.yaml" })
                Assert.True(File.ReadAllText(Path.Combine(dir, name)) == File.ReadAllText(Path.Combine(Kubernetes.Root, "base", "generated", name)),
                    $"base/generated/{name} is stale: run `bash deploy/kubernetes/generate.sh`");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_NetworkPolicy_admits_only_silos_to_the_silo_port()
    {
        JsonObject policy = Kubernetes.Single(Kubernetes.Objects("builtin"), "NetworkPolicy");
        JsonArray rules = policy["spec"]!["ingress"]!.AsArray();
        var siloRules = rules.Where(r => r!["ports"]!.AsArray().Any(p => (int?)p!["port"] == 11111)).ToList();
        JsonNode only = Assert.Single(siloRules)!;
        JsonNode from = Assert.Single(only["from"]!.AsArray())!;
        Assert.Null(from["namespaceSelector"]);
        Assert.Equal("moe-silo", (string?)from["podSelector"]!["matchLabels"]!["app.kubernetes.io/name"]);
        Assert.Equal(new[] { 11111 }, only["ports"]!.AsArray().Select(p => (int)p!["port"]!).ToArray());
    }
}
