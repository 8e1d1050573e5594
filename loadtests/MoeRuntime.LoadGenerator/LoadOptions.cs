using MoeRuntime.Client;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.LoadGenerator;

/// <summary>Command line of <c>moe-load</c>; see <see cref="Usage"/>.</summary>
sealed record LoadOptions
{
    public const string Usage = """
        usage: moe-load [--concurrency N [N ...]] [--requests-per-client K | --duration SECONDS] [--max-tokens N]
                        [--temperature T] [--seed S] [--prompts FILE] [--warmup N]
                        [--served] [--reference] [--reference-phases] [--reference-cpus LIST] [--model DIR] [--model-name NAME]
                        [--clustering localhost|redis] [--redis HOST:PORT] [--gateway PORT [PORT ...] [--router-per-gateway]] [--json FILE]
                        [--throughput-every SECONDS] [--metrics URL [--view-token TOKEN]]
                        [--cert CLIENT.pfx [--cert-password P] --ca CA.crt]
        [--phase PROMPTS_FILE|builtin SECONDS ...] [--sample-every SECONDS]
        [--http URL [--api-key KEY] [--view-token TOKEN] [--compare-orleans [--repeat R]]]
          --served and --reference pick the sides to measure; neither means both. --reference-phases runs each
          reference level again with its step timed by phase (per layer attention, gate, experts; sampling).
          --reference-cpus pins the reference's loop to a CPU list (taskset -c's form, e.g. 0) while it runs, to
          compare with a rank whose loop is pinned there (Moe:Compute:LoopCpus).
          --http drives a silo's OpenAI front door (streamed /v1/completions) as the served side instead of the
          Orleans client. --compare-orleans then runs the same requests through both at every level, R times
          each (default 3, alternating which goes first), and reports front door / Orleans ratios.
          --throughput-every samples the served clients' running totals (tokens streamed, requests ok / failed,
          streams resumed on another rank) at that interval, on stderr and in the JSON, for throughput over time.
          --router-per-gateway connects one client per --gateway port (localhost clustering) and sends each
          request to the next one's router in turn: one Orleans client reaches a single rank's router (a stateless
          worker on the gateway its calls enter), so this spreads the load over the ranks as a load balancer would.
          --view-token is a silo viewer token (Telemetry:Tokens) for its /v1/router status and /metrics page.
          --metrics reads the serving rank's /metrics before and after each served level, for its own clock beside
          the clients' in the timeline table (queue wait, first token, request, prefill and decode step, batch size).
          --phase runs a timeline instead of levels: the served side only, at the first concurrency, each
          phase's prompts for its duration in turn, without warm-up, sampling the clients and the cluster's
          tiers and controllers every --sample-every seconds (default 2).
        """;

    public int[] Concurrency { get; init; } = [1, 8, 32];
    public int RequestsPerClient { get; init; } = 4;
    /// <summary>When set, each client loops until this much time has passed instead of a request count.</summary>
    public TimeSpan? Duration { get; init; }
    public int MaxTokens { get; init; } = 64;
    /// <summary>0 is greedy; otherwise request i samples with seed <see cref="Seed"/> + i.</summary>
    public double Temperature { get; init; }
    public ulong Seed { get; init; } = 1;
    public string? PromptsPath { get; init; }
    /// <summary>Unmeasured requests first, so expert fetches and JIT do not land in the first level.</summary>
    public int Warmup { get; init; } = 2;
    public bool Served { get; init; } = true;
    public bool Reference { get; init; } = true;
    /// <summary>After each reference level, run it again split into phases (attention, gate, experts, sampling) on stderr.</summary>
    public bool ReferencePhases { get; init; }
    /// <summary>CPUs the reference's loop is pinned to while it runs (<see cref="MoeRuntime.Model.Threading.CpuList"/>); null leaves it unpinned.</summary>
    public IReadOnlyList<int>? ReferenceCpus { get; init; }
    public string ModelDirectory { get; init; } = DefaultModelLocation.Directory;
    public string ModelName { get; init; } = "default";
    public MoeClientOptions Cluster { get; init; } = new();
    public string? JsonPath { get; init; }
    /// <summary>Timeline mode: prompt sets (null = built-in) run one after another, each for its duration.</summary>
    public IReadOnlyList<LoadPhase> Phases { get; init; } = [];
    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>A silo's HTTP address (<c>http://127.0.0.1:8080</c>): the served side goes through its OpenAI front door.</summary>
    public string? HttpUrl { get; init; }
    public string? ApiKey { get; init; }
    /// <summary>A viewer token of the silo (<c>Telemetry:Tokens</c>), for <c>GET /v1/router</c>.</summary>
    public string? ViewToken { get; init; }
    /// <summary>The serving rank's Prometheus page (<c>http://127.0.0.1:8080/metrics</c>), read around each served level.</summary>
    public string? MetricsUrl { get; init; }
    /// <summary>With <see cref="HttpUrl"/>: the front door against the Orleans client on the same requests.</summary>
    public bool CompareOrleans { get; init; }
    public int Repeat { get; init; } = 3;
    /// <summary>When set, a served level records the clients' running totals at this interval (<see cref="ThroughputSample"/>).</summary>
    public TimeSpan? ThroughputEvery { get; init; }
    /// <summary>One client per gateway port, requests spread over their routers in turn (<see cref="SpreadTarget"/>).</summary>
    public bool RouterPerGateway { get; init; }

    public static LoadOptions Parse(string[] args)
    {
        var options = new LoadOptions();
        bool served = false, reference = false;
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{option} needs a value\n{Usage}");
            int[] Numbers()
            {
                var values = new List<int>();
                while (i + 1 < args.Length && int.TryParse(args[i + 1], out int n)) { values.Add(Positive(option, n)); i++; }
                return values.Count > 0 ? values.ToArray() : throw new ArgumentException($"{option} needs at least one number\n{Usage}");
            }
            options = option switch
            {
                "--concurrency" => options with { Concurrency = Numbers() },
                "--requests-per-client" => options with { RequestsPerClient = Positive(option, int.Parse(Value())) },
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Positive(option, double.Parse(Value()))) },
                "--max-tokens" => options with { MaxTokens = Positive(option, int.Parse(Value())) },
                "--temperature" => options with { Temperature = double.Parse(Value()) },
                "--seed" => options with { Seed = ulong.Parse(Value()) },
                "--prompts" => options with { PromptsPath = Value() },
                "--warmup" => options with { Warmup = int.Parse(Value()) },
                "--model" => options with { ModelDirectory = Value() },
                "--model-name" => options with { ModelName = Value() },
                "--clustering" => options with { Cluster = options.Cluster with { Clustering = Value() } },
                "--redis" => options with { Cluster = options.Cluster with { Redis = Value() } },
                "--gateway" => options with { Cluster = options.Cluster with { GatewayPorts = Numbers() } },
                "--cert" => options with { Cluster = options.Cluster with { Certificate = Value() } },
                "--cert-password" => options with { Cluster = options.Cluster with { CertificatePassword = Value() } },
                "--ca" => options with { Cluster = options.Cluster with { CertificateAuthority = Value() } },
                "--json" => options with { JsonPath = Value() },
                "--phase" => options with { Phases = [.. options.Phases, new LoadPhase(Value() is var file && file == "builtin" ? null : file, TimeSpan.FromSeconds(Positive(option, double.Parse(Value()))))] },
                "--sample-every" => options with { SampleEvery = TimeSpan.FromSeconds(Positive(option, double.Parse(Value()))) },
                "--http" => options with { HttpUrl = Value() },
                "--api-key" => options with { ApiKey = Value() },
                "--view-token" => options with { ViewToken = Value() },
                "--metrics" => options with { MetricsUrl = Value() },
                "--compare-orleans" => options with { CompareOrleans = true },
                "--throughput-every" => options with { ThroughputEvery = TimeSpan.FromSeconds(Positive(option, double.Parse(Value()))) },
                "--repeat" => options with { Repeat = Positive(option, int.Parse(Value())) },
                "--reference-phases" => options with { ReferencePhases = true },
                "--reference-cpus" => options with { ReferenceCpus = MoeRuntime.Model.Threading.CpuList.Parse(Value()) },
                "--router-per-gateway" => options with { RouterPerGateway = true },
                "--served" => Mark(ref served, options),
                "--reference" => Mark(ref reference, options),
                _ => throw new ArgumentException($"unknown option '{option}'\n{Usage}"),
            };
        }
        if (options.CompareOrleans && options.HttpUrl is null) throw new ArgumentException($"--compare-orleans needs --http URL\n{Usage}");
        if (options.CompareOrleans && options.Phases.Count > 0) throw new ArgumentException($"--compare-orleans runs levels, not --phase timelines\n{Usage}");
        if (options.RouterPerGateway && (!string.Equals(options.Cluster.Clustering, "localhost", StringComparison.OrdinalIgnoreCase) || options.Cluster.GatewayPorts.Length < 2))
            throw new ArgumentException($"--router-per-gateway needs --clustering localhost and at least two --gateway ports (has {options.Cluster.Clustering}, {options.Cluster.GatewayPorts.Length} port(s))\n{Usage}");
        if (options.RouterPerGateway && (options.HttpUrl is not null || options.Phases.Count > 0))
            throw new ArgumentException($"--router-per-gateway drives the Orleans routers' levels; it does not combine with --http or --phase\n{Usage}");
        return served || reference ? options with { Served = served, Reference = reference } : options;
    }

    static LoadOptions Mark(ref bool flag, LoadOptions options)
    {
        flag = true;
        return options;
    }

    static T Positive<T>(string option, T value) where T : System.Numerics.INumber<T> =>
        value > T.Zero ? value : throw new ArgumentException($"{option} must be positive (is {value})");
}

/// <summary>One phase of a timeline: whose prompts (null = the built-in set) and for how long.</summary>
sealed record LoadPhase(string? PromptsPath, TimeSpan Duration);
