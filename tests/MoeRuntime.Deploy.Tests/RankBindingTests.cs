using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Silo;

namespace MoeRuntime.Deploy.Tests;

/// <summary>
/// What each pod of the rendered StatefulSet gets, bound by the silo's own configuration code: its environment (the
/// downward API and Secrets filled in as the kubelet would, <c>$(VAR)</c> expanded), its command line through
/// <see cref="SiloCommandLine.Switches"/>, on top of the silo's appsettings.json, then <see cref="MoeConfiguration.Check"/>.
/// Pods 0..N-1 must be ranks 0..N-1, each with its own certificate, and every option must validate.
/// </summary>
public sealed class RankBindingTests
{
    /// <summary>What the memory request allows for the process beside the tier and KV budgets (docs/kubernetes.md).</summary>
    const long ProcessOverheadBytes = 640L << 20;

    /// <summary>The silo's shutdown beyond the drain (SiloOptionsBinding: HostOptions.ShutdownTimeout = drain + 10 s).</summary>
    static readonly TimeSpan ShutdownAfterDrain = TimeSpan.FromSeconds(10);

    public static TheoryData<string> Overlays => new(Kubernetes.Overlays);

    [Theory]
    [MemberData(nameof(Overlays))]
    public void Pods_0_to_N_minus_1_bind_to_ranks_0_to_N_minus_1(string overlay)
    {
        JsonObject statefulSet = Kubernetes.Single(Kubernetes.Objects(overlay), "StatefulSet", "moe-silo");
        int replicas = (int)statefulSet["spec"]!["replicas"]!;
        Assert.True(replicas >= 2, $"replicas is {replicas}");
        var ranks = new List<int>();
        for (int ordinal = 0; ordinal < replicas; ordinal++)
        {
            using var pod = new Pod(statefulSet, ordinal);
            SiloSettings settings = MoeConfiguration.Check(pod.Configuration());
            ranks.Add(settings.Moe.Rank);
            Assert.Equal("redis", settings.Host.Clustering);
            Assert.Equal(pod.Ip, settings.Host.AdvertisedAddress);
            Assert.True(settings.Security.Tls, "mutual TLS is off");
            Assert.Equal($"silo-{ordinal}.pfx", Path.GetFileName(settings.Security.Certificate));
            Assert.Equal("/var/lib/moe/models/default", pod.Unmapped(settings.Moe.ModelPath));
        }
        Assert.Equal(Enumerable.Range(0, replicas), ranks);
    }

    [Fact]
    public void A_rank_taken_from_the_pod_name_instead_of_its_index_is_refused_by_the_silo()
    {
        JsonObject statefulSet = Kubernetes.Single(Kubernetes.Objects("builtin"), "StatefulSet", "moe-silo");
        JsonNode rank = Pod.Container(statefulSet)["env"]!.AsArray().Single(e => (string?)e!["name"] == "MOE_Moe__Rank")!;
        rank["valueFrom"]!["fieldRef"]!["fieldPath"] = "metadata.name";
        using var pod = new Pod(statefulSet, 1);
        var e = Assert.Throws<InvalidOperationException>(() => MoeConfiguration.Check(pod.Configuration()));
        Assert.Contains("Moe:Rank", e.Message);
    }

    [Fact]
    public void The_grace_period_outlasts_the_drain_and_the_memory_request_covers_the_budgets()
    {
        JsonObject statefulSet = Kubernetes.Single(Kubernetes.Objects("builtin"), "StatefulSet", "moe-silo");
        using var pod = new Pod(statefulSet, 0);
        SiloSettings settings = MoeConfiguration.Check(pod.Configuration());

        var grace = TimeSpan.FromSeconds((int)statefulSet["spec"]!["template"]!["spec"]!["terminationGracePeriodSeconds"]!);
        Assert.True(grace > settings.Moe.DrainTimeout + ShutdownAfterDrain,
            $"terminationGracePeriodSeconds {grace} must exceed Moe:DrainTimeout {settings.Moe.DrainTimeout} + {ShutdownAfterDrain}");

        JsonNode resources = Pod.Container(statefulSet)["resources"]!;
        long request = Quantity((string)resources["requests"]!["memory"]!);
        long limit = Quantity((string)resources["limits"]!["memory"]!);
        long budgets = settings.Moe.HotBudgetBytes + settings.Moe.WarmBudgetBytes + settings.Moe.Limits.KvCacheBudgetBytes;
        Assert.True(request >= budgets + ProcessOverheadBytes,
            $"memory request {request} < hot {settings.Moe.HotBudgetBytes} + warm {settings.Moe.WarmBudgetBytes} + KV {settings.Moe.Limits.KvCacheBudgetBytes} + process {ProcessOverheadBytes}");
        Assert.True(limit > request, $"memory limit {limit} must leave headroom above the request {request}");
    }

    /// <summary>Kubernetes memory quantities with binary suffixes (what the manifests use).</summary>
    static long Quantity(string value)
    {
        Match m = Regex.Match(value, @"^(\d+)(Ki|Mi|Gi|Ti)?$");
        Assert.True(m.Success, $"'{value}' is not a quantity this test reads");
        int shift = m.Groups[2].Value switch { "Ki" => 10, "Mi" => 20, "Gi" => 30, "Ti" => 40, _ => 0 };
        return long.Parse(m.Groups[1].Value) << shift;
    }

    /// <summary>One pod of the StatefulSet as the kubelet would start it, its mounted files under a scratch folder.</summary>
    sealed class Pod : IDisposable
    {
        readonly JsonObject _statefulSet;
        readonly int _ordinal;
        readonly string _root = Directory.CreateTempSubdirectory("moe-pod-").FullName;

        public Pod(JsonObject statefulSet, int ordinal) => (_statefulSet, _ordinal) = (statefulSet, ordinal);

        public string Ip => $"10.0.0.{10 + _ordinal}";

        public static JsonNode Container(JsonObject statefulSet) =>
            statefulSet["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single(c => (string?)c!["name"] == "silo")!;

        /// <summary>A path in the scratch folder back to the path in the pod.</summary>
        public string Unmapped(string path) => path.StartsWith(_root, StringComparison.Ordinal) ? path[_root.Length..] : path;

        public IConfiguration Configuration()
        {
            JsonNode container = Container(_statefulSet);
            JsonNode pod = _statefulSet["spec"]!["template"]!["spec"]!;
            var volumes = pod["volumes"]!.AsArray().ToDictionary(v => (string)v!["name"]!, v => v!);
            var mounts = container["volumeMounts"]!.AsArray()
                .Select(m => (Path: (string)m!["mountPath"]!, Secret: volumes[(string)m!["name"]!]!["secret"] is not null)).ToList();

            var env = new Dictionary<string, string>();
            foreach (JsonNode? variable in container["env"]!.AsArray())
            {
                string name = (string)variable!["name"]!;
                string value = variable["value"] is JsonNode literal ? Expand((string)literal!, env) : ValueFrom(name, variable["valueFrom"]!);
                env[name] = Mount(value, mounts);
            }

            string silo = Path.Combine(Repo.Root, "silo", "MoeRuntime.Silo", "appsettings.json");
            string[] command = container["command"]!.AsArray().Select(a => (string)a!).ToArray();
            Assert.Equal("/app/moe-silo", command[0]);
            string[] args = command.Skip(1).Concat(container["args"]?.AsArray().Select(a => Expand((string)a!, env)) ?? []).ToArray();
            return new ConfigurationBuilder()
                .AddJsonFile(silo, optional: false)
                .AddInMemoryCollection(env
                    .Where(e => e.Key.StartsWith(SiloCommandLine.EnvironmentPrefix, StringComparison.Ordinal))
                    .Select(e => KeyValuePair.Create(e.Key[SiloCommandLine.EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), (string?)e.Value)))
                .AddCommandLine(args, new Dictionary<string, string>(SiloCommandLine.Switches))
                .Build();
        }

        string ValueFrom(string name, JsonNode from)
        {
            if (from["fieldRef"] is JsonNode field)
            {
                string path = (string)field["fieldPath"]!;
                return path switch
                {
                    // What the StatefulSet controller sets on each pod (Kubernetes 1.28 and later).
                    "metadata.labels['apps.kubernetes.io/pod-index']" => _ordinal.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "metadata.name" => $"{_statefulSet["metadata"]!["name"]}-{_ordinal}",
                    "status.podIP" => Ip,
                    _ => throw new InvalidOperationException($"{name}: this test does not know the field {path}"),
                };
            }
            if (from["secretKeyRef"] is JsonNode secret)
            {
                string key = (string)secret["key"]!;
                return key == "connection" ? "redis.example:6379,password=placeholder"
                    : $"placeholder-{secret["name"]}-{key}-0123456789abcdef0123456789abcdef";
            }
            throw new InvalidOperationException($"{name}: this test does not know {from.ToJsonString()}");
        }

        /// <summary>Kubernetes' $(VAR) expansion: variables defined earlier in the list; anything else stays as written.</summary>
        static string Expand(string value, Dictionary<string, string> env) =>
            Regex.Replace(value, @"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", m => env.TryGetValue(m.Groups[1].Value, out string? v) ? v : m.Value);

        /// <summary>A path in a mounted volume moves under the scratch folder; a file in a Secret volume is created there.</summary>
        string Mount(string value, List<(string Path, bool Secret)> mounts)
        {
            foreach ((string mountPath, bool secret) in mounts)
            {
                if (!value.StartsWith(mountPath + "/", StringComparison.Ordinal)) continue;
                string local = _root + value;
                Directory.CreateDirectory(Path.GetDirectoryName(local)!);
                // The silos' internal call key is hex, at least 32 bytes; the other files are only checked to exist.
                if (secret) File.WriteAllText(local, Path.GetFileName(local) == "internal.key" ? new string('a', 64) : "placeholder");
                return local;
            }
            return value;
        }

        public void Dispose() => Directory.Delete(_root, recursive: true);
    }
}
