using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Prefetch;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Grains.Telemetry;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// Every option the silo's appsettings.json lists has an out-of-range value here, and each one stops the silo at its
/// start-up check (<see cref="MoeConfiguration.Check"/>, what the silo runs before it wires anything) with the option's
/// key in the message. appsettings.json in turn lists every property of every options class, with its default.
/// </summary>
public sealed class SiloOptionsTests : IDisposable
{
    // Per key of appsettings.json: the setting that puts it out of range ({file} and {directory} are made per run).
    static readonly Dictionary<string, (string Key, string Value)> OutOfRange = Cases(
        ("Moe:ModelName", ""), ("Moe:ModelRevision", "v1 final!"), ("Moe:ModelPath", "{file}"), ("Moe:RequireManifest", "maybe"), ("Moe:Device", "tpu"), ("Moe:Rank", "-1"),
        ("Moe:HotBudgetBytes", "-1"), ("Moe:WarmBudgetBytes", "-1"), ("Moe:DefaultTier", "7"),
        ("Moe:MaxQueuedRequests", "0"), ("Moe:WarmupRequests", "4097"), ("Moe:MaxBatchSequences", "0"), ("Moe:MaxBatchTokens", "0"),
        ("Moe:DrainTimeout", "-00:00:05"), ("Moe:BatcherRestartDelay", "00:00:00"), ("Moe:BatcherMaxRestartDelay", "-00:00:01"), ("Moe:PrefetchLookahead", "-1"), ("Moe:ExpertCallTimeout", "00:00:00"),
        ("Moe:ExpertCallRetryWindow", "-00:00:01"), ("Moe:ExpertCallHedgeAfter", "00:00:06"), ("Moe:ExpertDetourPeriod", "00:00:00"), ("Moe:WireFormat", "7"), ("Moe:ExpertCallsPerRank", "maybe"), ("Moe:RoutingCheckEveryNTokens", "0"), ("Moe:RoutingTracePath", "{directory}"),
        ("Moe:SuccessLogSampleRatio", "1.5"),
        ("Moe:Overlap:MicroBatches", "0"), ("Moe:Overlap:MinSequences", "1"),
        ("Moe:Limits:MaxTokens", "0"), ("Moe:Limits:MaxPromptCharacters", "0"), ("Moe:Limits:KvCacheBudgetBytes", "0"),
        ("Moe:Limits:AllowLogitsCapture", "maybe"), ("Moe:Limits:MaxLogitsCaptureTokens", "0"), ("Moe:Limits:MaxStopTokens", "-1"),
        ("Moe:Limits:MaxStopStrings", "-1"), ("Moe:Limits:MaxStopStringCharacters", "0"), ("Moe:Limits:TokenizerRegexTimeout", "00:00:00"),
        ("Moe:CostAwareRouting:Enabled", "maybe"), ("Moe:CostAwareRouting:ColdPenalty", "-1"), ("Moe:CostAwareRouting:TopK", "0"),
        ("Moe:CostAwareRouting:MaxChangedShare", "2"),
        ("Moe:Compute:IntraOpThreads", "-1"), ("Moe:Compute:InterOpThreads", "257"), ("Moe:Compute:LoopCpus", "0-"),
        ("Moe:FailureDetection:ProbeTimeout", "00:00:00"), ("Moe:FailureDetection:NumMissedProbesLimit", "0"),
        ("Moe:FailureDetection:NumVotesForDeathDeclaration", "0"), ("Moe:FailureDetection:DeathVoteExpirationTimeout", "00:00:01"),
        ("Moe:FailureDetection:IAmAliveTablePublishTimeout", "-00:00:01"),
        ("Moe:Balancing:Threshold", "0.5"), ("Moe:Balancing:ExtraReplicaSlotsPerRank", "-1"), ("Moe:Balancing:MaxChanges", "-1"),
        ("Moe:Balancing:LoadWindow", "2m"), ("Moe:Balancing:MapRefreshInterval", "00:00:00"), ("Moe:Balancing:LocalExpertsPerLayer", "-1"),
        ("Moe:Control:Enabled", "maybe"), ("Moe:Control:DryRun", "maybe"), ("Moe:Control:Interval", "00:00:00"),
        ("Moe:Control:LatencyWindow", "7s"), ("Moe:Control:MaxChangesPerInterval", "2"), ("Moe:Control:HysteresisRatio", "-0.1"),
        ("Moe:Control:TransientHeadroomExperts", "-1"), ("Moe:Control:SettingsRefreshInterval", "00:00:00"),
        ("Moe:Control:BalanceEveryIntervals", "-1"),
        ("Moe:Control:Latency:TargetP95InterTokenSeconds", "0"), ("Moe:Control:Latency:TargetP95TimeToFirstTokenSeconds", "-1"),
        ("Moe:Control:Latency:GiveBackMargin", "1"), ("Moe:Control:Latency:GrowStep", "0"), ("Moe:Control:Latency:ShrinkStep", "2"),
        ("Moe:Control:Latency:MinHotShare", "1.5"), ("Moe:Control:Latency:DemandHalfLifeIntervals", "0"),
        ("Moe:Control:Latency:DriftHalfLife:Enabled", "maybe"), ("Moe:Control:Latency:DriftHalfLife:PsiThreshold", "0"),
        ("Moe:Control:Latency:DriftHalfLife:RestoreBelowPsi", "0.3"), ("Moe:Control:Latency:DriftHalfLife:Factor", "1.5"),
        ("Moe:Control:Latency:MinDemand", "-1"), ("Moe:Control:Latency:TransientYield", "maybe"), ("Moe:Control:Latency:TransientYieldWeight", "0"), ("Moe:Control:Latency:FetchPriors:WarmSeconds", "0"),
        ("Moe:Control:Latency:FetchPriors:ColdSeconds", "0.001"), ("Moe:Control:Latency:BaseSampleRatio", "0"),
        ("Moe:Control:Latency:MinSampleRatio", "0"),
        ("Moe:Control:Cost:Enabled", "maybe"), ("Moe:Control:Cost:DemoteMargin", "-1"), ("Moe:Control:Cost:DollarsPerFetchedGb", "-1"),
        ("Moe:Control:Cost:DollarsPerStallSecond", "-1"),
        ("Moe:Control:Canary:Enabled", "maybe"), ("Moe:Control:Canary:Ranks", "0"), ("Moe:Control:Canary:Share", "1"),
        ("Moe:Control:Canary:Intervals", "2"), ("Moe:Control:Canary:MinIntervals", "1"), ("Moe:Control:Canary:MadMultiplier", "0"), ("Moe:Control:Canary:AutoTrialAbove", "-1"), ("Moe:Control:Canary:PlacementTrials", "maybe"),
        ("Moe:Control:Canary:MinInterTokenSeconds", "-1"), ("Moe:Control:Canary:MinTimeToFirstTokenSeconds", "-1"),
        ("Moe:Control:Canary:MinHitRatio", "-0.1"), ("Moe:Control:Canary:MinStallSecondsPerThousandCalls", "-1"),
        ("Moe:Control:Canary:MinDollarsPerThousandTokens", "-1"),
        ("Moe:Control:Canary:MinRelativeEffect", "1"),
        ("Moe:Shadow:CandidatePath", "{file}"), ("Moe:Shadow:Share", "1.5"), ("Moe:Shadow:MaxQueue", "0"),
        ("Moe:Shadow:Gate:MinGreedyAgreement", "1.5"), ("Moe:Shadow:Gate:MaxMeanLogProbDivergence", "-1"),
        ("Moe:Shadow:Gate:MinRoutingAgreement", "-0.1"), ("Moe:Shadow:Gate:MaxLatencyRatio", "0"), ("Moe:Shadow:Gate:MinTokens", "0"), ("Moe:FaultInjection:PinnedReplicaDelay", "00:00:03"),
        ("Moe:Control:Prefetch:Enabled", "maybe"), ("Moe:Control:Prefetch:DryRun", "maybe"), ("Moe:Control:Prefetch:Interval", "00:00:00"),
        ("Moe:Control:Prefetch:SettingsRefreshInterval", "00:00:00"), ("Moe:Control:Prefetch:RankTimeout", "00:00:00"),
        ("Moe:Control:Prefetch:MaxLookahead", "-1"), ("Moe:Control:Prefetch:MinThreshold", "-0.1"),
        ("Moe:Control:Prefetch:MaxThreshold", "1.5"), ("Moe:Control:Prefetch:ThresholdStep", "0"),
        ("Moe:Control:Prefetch:HighWasteShare", "1.5"), ("Moe:Control:Prefetch:LowWasteShare", "0.6"),
        ("Moe:Control:Prefetch:HighFailureShare", "2"), ("Moe:Control:Prefetch:HighStallShare", "-1"),
        ("Moe:Security:Tls", "maybe"), ("Moe:Security:Certificate", "{directory}"), ("Moe:Security:CertificatePassword", "secret"),
        ("Moe:Security:CertificateAuthority", "{directory}"), ("Moe:Security:InternalKeyFile", "{file}"),
        ("Moe:Security:AllowInsecureRemote", "maybe"), ("Moe:Security:AnonymousRole", "root"),
        ("Moe:Telemetry:Enabled", "maybe"), ("Moe:Telemetry:Interval", "00:00:00"), ("Moe:Telemetry:Shards", "0"),
        ("Moe:Telemetry:StaleAfterIntervals", "0"), ("Moe:Telemetry:RankRetention", "00:00:00"), ("Moe:Telemetry:SampleEveryNTokens", "0"),
        ("Moe:Telemetry:PseudonymKey", "too-short"),
        ("Moe:Telemetry:Slo:RequestP50Seconds", "0"), ("Moe:Telemetry:Slo:RequestP95Seconds", "-1"), ("Moe:Telemetry:Slo:TtftP95Seconds", "0"),
        ("Moe:Telemetry:Slo:RequestP99Seconds", "0"), ("Moe:Telemetry:Slo:MinRequestTokensPerSecond", "-1"),
        ("Moe:Telemetry:Slo:ErrorRatio", "2"), ("Moe:Telemetry:Slo:Availability", "-0.5"),
        ("Moe:Telemetry:Costs:PromptUsdPer1kTokens", "-1"), ("Moe:Telemetry:Costs:CompletionUsdPer1kTokens", "-1"),
        ("Moe:Telemetry:Costs:HotUsdPerGbHour", "-1"), ("Moe:Telemetry:Costs:WarmUsdPerGbHour", "-1"),
        ("Moe:Telemetry:Costs:ColdUsdPerGbHour", "-1"),
        ("Moe:Telemetry:RoutingDrift:Slot", "00:00:00.5"), ("Moe:Telemetry:RoutingDrift:RecentSlots", "0"),
        ("Moe:Telemetry:RoutingDrift:BaselineSlots", "1441"), ("Moe:Telemetry:RoutingDrift:MinChoices", "0"),
        ("Moe:Telemetry:RoutingDrift:Epsilon", "0.5"), ("Moe:Telemetry:RoutingDrift:PsiThreshold", "0"),
        ("Silo:Clustering", "carrier-pigeon"), ("Silo:Redis", ""), ("Silo:ClusterId", ""), ("Silo:SiloPort", "70000"), ("Silo:SiloListeningPort", "70000"),
        ("Silo:GatewayPort", "-1"), ("Silo:PrimarySiloPort", "65536"), ("Silo:HttpPort", "70000"), ("Silo:AdvertisedAddress", "localhost"),
        ("Silo:HttpBind", "localhost"), ("Silo:HttpsCertificatePath", "{directory}"), ("Silo:HttpsCertificatePassword", "secret"),
        ("Silo:AllowInsecureHttp", "maybe"),
        ("Telemetry:OtlpEndpoint", "ftp://127.0.0.1:4317"), ("Telemetry:TraceSampleRatio", "1.5"), ("Telemetry:Tokens", " "),
        ("Telemetry:OperatorTokens", " "), ("Telemetry:TokenFile", "{directory}"),
        ("Telemetry:JsonLogs", "maybe"), ("Telemetry:ErrorTraces:Enabled", "maybe"), ("Telemetry:ErrorTraces:SlowRequestSeconds", "0"),
        ("Telemetry:ErrorTraces:MaxBufferedRequests", "0"), ("Telemetry:ErrorTraces:MaxSpansPerRequest", "10001"));

    // The --prompt keys sit at the top level and have no entry in appsettings.json.
    public static TheoryData<string, string> OneShotOutOfRange => new() { { "MaxTokens", "0" }, { "Temperature", "-1" }, { "TopP", "0" } };

    readonly string _scratch = Directory.CreateTempSubdirectory("moe-options-").FullName;

    static Dictionary<string, (string Key, string Value)> Cases(params (string Key, string Value)[] cases) =>
        // An array option is set through its first element.
        cases.ToDictionary(c => c.Key, c => (c.Key is "Telemetry:Tokens" or "Telemetry:OperatorTokens" ? c.Key + ":0" : c.Key, c.Value));

    static string AppSettings => Path.Combine(AppContext.BaseDirectory, "silo-appsettings.json");

    /// <summary>Every option key in appsettings.json (leaves; an empty array is one option), Logging aside.</summary>
    static List<string> ListedOptions()
    {
        var keys = new List<string>();
        void Walk(JsonNode? node, string path)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (var (name, child) in o) Walk(child, path.Length == 0 ? name : $"{path}:{name}");
                    break;
                case JsonArray:
                    keys.Add(path);
                    break;
                default:
                    keys.Add(path);
                    break;
            }
        }
        JsonObject root = JsonNode.Parse(File.ReadAllText(AppSettings))!.AsObject();
        foreach (var (name, section) in root)
            if (name != "Logging") Walk(section, name);
        return keys;
    }

    IConfiguration Configuration(params (string Key, string? Value)[] settings) =>
        new ConfigurationBuilder()
            .AddJsonFile(AppSettings)
            .AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, s.Value)))
            .Build();

    string Materialise(string value)
    {
        if (value == "{file}")
        {
            string file = Path.Combine(_scratch, "not-a-directory");
            File.WriteAllText(file, "");
            return file;
        }
        return value == "{directory}" ? _scratch : value;
    }

    /// <summary>The start-up check's one line, as the silo prints it, or null when the check passes.</summary>
    static string? CheckFails(IConfiguration configuration)
    {
        try
        {
            MoeConfiguration.Check(configuration);
            return null;
        }
        catch (OptionsValidationException e)
        {
            return string.Join("; ", e.Failures);
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    }

    [Fact]
    public void EveryOptionInAppSettingsHasAnOutOfRangeCase()
    {
        List<string> listed = ListedOptions();
        Assert.True(listed.Count > 90, $"appsettings.json lists only {listed.Count} options");
        Assert.Empty(listed.Where(k => !OutOfRange.ContainsKey(k)).Select(k => $"{k} has no out-of-range case"));
        Assert.Empty(OutOfRange.Keys.Where(k => !listed.Contains(k)).Select(k => $"{k} is not in appsettings.json"));
    }

    [Fact]
    public void AppSettingsListsEveryPropertyOfEveryOptionsClassWithItsDefault()
    {
        var properties = new List<string>();
        foreach (var (type, section) in new (Type, string)[]
                 {
                     (typeof(MoeSiloOptions), MoeSiloOptions.Section), (typeof(TelemetryOptions), TelemetryOptions.Section),
                     (typeof(PrefetchControlOptions), PrefetchControlOptions.Section), (typeof(PrefetchControllerOptions), PrefetchControlOptions.Section),
                     (typeof(SiloHostOptions), SiloHostOptions.Section), (typeof(TelemetryHostOptions), TelemetryHostOptions.Section),
                     (typeof(MoeSecurityOptions), MoeSecurityOptions.Section),
                 })
            Properties(type, section, properties);
        List<string> listed = ListedOptions();
        Assert.Empty(properties.Distinct().Where(p => !listed.Contains(p)).Select(p => $"{p} is not in appsettings.json"));

        // The listed values are the defaults: binding appsettings.json changes nothing.
        using var defaults = new ServiceCollection().AddMoeOptions(new ConfigurationBuilder().Build())
            .AddHostOptions(new ConfigurationBuilder().Build()).BuildServiceProvider();
        SiloSettings bound = MoeConfiguration.Check(Configuration());
        Assert.Equivalent(Get<MoeSiloOptions>(defaults), bound.Moe, strict: true);
        Assert.Equivalent(Get<SiloHostOptions>(defaults), bound.Host, strict: true);
        Assert.Equivalent(Get<TelemetryHostOptions>(defaults), bound.Telemetry, strict: true);
        Assert.Equivalent(Get<MoeSecurityOptions>(defaults), bound.Security, strict: true);
    }

    static T Get<T>(IServiceProvider services) where T : class => services.GetRequiredService<IOptions<T>>().Value;

    static void Properties(Type type, string path, List<string> into)
    {
        foreach (PropertyInfo p in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
        {
            Type t = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            string key = $"{path}:{p.Name}";
            if (t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(TimeSpan) || t.IsArray || t == typeof(decimal)) into.Add(key);
            else Properties(t, key, into);
        }
    }

    [Fact]
    public void TheSilosOwnAppSettingsPass() => Assert.Null(CheckFails(Configuration()));

    [Fact]
    public void EachOutOfRangeValueStopsTheSiloWithItsNameInTheMessage()
    {
        var missed = new List<string>();
        foreach (var (option, (key, value)) in OutOfRange)
        {
            string? failure = CheckFails(Configuration((key, Materialise(value))));
            if (failure is null || !failure.Contains(option, StringComparison.Ordinal))
                missed.Add($"{key}={value}: {failure ?? "accepted"}");
            else if (failure.Contains('\n'))
                missed.Add($"{key}={value}: more than one line: {failure}");
        }
        Assert.Empty(missed);
    }

    [Theory]
    [MemberData(nameof(OneShotOutOfRange))]
    public void AnOutOfRangePromptSettingStopsTheSilo(string key, string value) =>
        Assert.StartsWith($"{key} must be", CheckFails(Configuration((key, value))));

    [Fact]
    public void SeveralMistakesAreAllNamedAtOnce()
    {
        string? failure = CheckFails(Configuration(("Moe:Rank", "-1"), ("Moe:Telemetry:Shards", "0"), ("Silo:HttpPort", "70000")));
        Assert.NotNull(failure);
        Assert.Contains("Moe:Rank must be at least 0, was -1", failure);
        Assert.Contains("Moe:Telemetry:Shards must be at least 1, was 0", failure);
        Assert.Contains("Silo:HttpPort must be between 0 and 65535, was 70000", failure);
    }

    [Fact]
    public void ComputeThreadsAreRefusedBelowZeroAndAboveTheBoundWithTheirKeyAndValue()
    {
        Assert.Null(CheckFails(Configuration(("Moe:Compute:IntraOpThreads", "1"), ("Moe:Compute:InterOpThreads", "256"))));
        Assert.Contains("Moe:Compute:IntraOpThreads must be between 0 and 256, was 257", CheckFails(Configuration(("Moe:Compute:IntraOpThreads", "257"))));
        Assert.Contains("Moe:Compute:InterOpThreads must be between 0 and 256, was -1", CheckFails(Configuration(("Moe:Compute:InterOpThreads", "-1"))));
    }

    [Fact]
    public void TheLoopsCpusMustBeACpuListAndItsErrorSaysWhichPart()
    {
        Assert.Null(CheckFails(Configuration(("Moe:Compute:LoopCpus", "0"))));
        Assert.Null(CheckFails(Configuration(("Moe:Compute:LoopCpus", "0-1,3"))));
        Assert.Null(CheckFails(Configuration(("Moe:Compute:LoopCpus", ""))));
        Assert.Contains("Moe:Compute:LoopCpus CPU range '3-1' in '3-1' runs backwards", CheckFails(Configuration(("Moe:Compute:LoopCpus", "3-1"))));
        Assert.Contains("Moe:Compute:LoopCpus 'first' in CPU list 'first' is not a CPU id from 0 to 1023", CheckFails(Configuration(("Moe:Compute:LoopCpus", "first"))));
    }

    [Fact]
    public void PlainHttpBeyondLoopbackIsRefusedUnlessHttpsOrTheInsecureFlagIsSet()
    {
        Assert.Null(CheckFails(Configuration(("Silo:HttpBind", "::1"))));
        string? failure = CheckFails(Configuration(("Silo:HttpBind", "0.0.0.0")));
        Assert.NotNull(failure);
        Assert.Contains("Silo:HttpBind is 0.0.0.0, beyond loopback, without HTTPS", failure);
        Assert.Contains("Silo:AllowInsecureHttp=true", failure);
        Assert.Null(CheckFails(Configuration(("Silo:HttpBind", "0.0.0.0"), ("Silo:AllowInsecureHttp", "true"))));
        string certificate = Path.Combine(_scratch, "http.pfx");
        File.WriteAllBytes(certificate, [1]);
        Assert.Null(CheckFails(Configuration(("Silo:HttpBind", "0.0.0.0"), ("Silo:HttpsCertificatePath", certificate))));
    }

    [Fact]
    public void ATokenMayHoldOnlyOneRole()
    {
        string? failure = CheckFails(Configuration(("Telemetry:Tokens:0", "shared-token"), ("Telemetry:OperatorTokens:0", "shared-token")));
        Assert.NotNull(failure);
        Assert.Contains("Telemetry:OperatorTokens:0 is also in Telemetry:Tokens", failure);
        Assert.DoesNotContain("shared-token", failure);
    }

    [Fact]
    public void AWindowIsParsedByItsOneSpellingAndAnUnknownOneSaysWhichAreKnown()
    {
        SiloSettings settings = MoeConfiguration.Check(Configuration(("Moe:Balancing:LoadWindow", "5m"), ("Moe:Control:LatencyWindow", "1h")));
        Assert.Equal(MoeRuntime.Telemetry.Aggregation.TelemetryWindow.FiveMinutes, settings.Moe.Balancing.LoadWindow);
        Assert.Equal(MoeRuntime.Telemetry.Aggregation.TelemetryWindow.OneHour, settings.Moe.Control.LatencyWindow);
        string? failure = CheckFails(Configuration(("Moe:Control:LatencyWindow", "OneHour")));
        Assert.NotNull(failure);
        Assert.Contains("'Moe:Control:LatencyWindow'", failure);
        Assert.Contains("(20s, 1m, 5m, 1h)", failure);
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void ANonLoopbackSiloWithoutTlsRefusesToStartUnlessAllowedExplicitly()
    {
        (string, string?)[] remote = [("Silo:Clustering", "redis"), ("Silo:AdvertisedAddress", "10.1.2.3")];
        string? failure = CheckFails(Configuration(remote));
        Assert.NotNull(failure);
        Assert.Contains("Moe:Security:Tls is off", failure);
        Assert.Contains("Moe:Security:AllowInsecureRemote", failure);
        Assert.Null(CheckFails(Configuration([.. remote, ("Moe:Security:AllowInsecureRemote", "true")])));
        // Loopback redis clustering (three ranks on one machine) needs neither.
        Assert.Null(CheckFails(Configuration(("Silo:Clustering", "redis"), ("Silo:AdvertisedAddress", "127.0.0.1"))));
    }

    [Fact]
    public void TlsNeedsItsCertificateAuthorityAndInternalKey()
    {
        string? failure = CheckFails(Configuration(("Moe:Security:Tls", "true")));
        Assert.NotNull(failure);
        foreach (string key in new[] { "Moe:Security:Certificate", "Moe:Security:CertificateAuthority", "Moe:Security:InternalKeyFile" })
            Assert.Contains(key, failure);
    }
}
