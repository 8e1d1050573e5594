using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Loop;
using MoeRuntime.Grains.Hosting;
using Xunit;

namespace MoeRuntime.Grains.Tests;

/// <summary>The pieces of live reload without a cluster: the diff, which keys are live, the monitor over a watched file.</summary>
public sealed class LiveReloadTests : IDisposable
{
    readonly string _directory = Directory.CreateTempSubdirectory("moe-reload-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void The_diff_names_every_changed_key_with_old_and_new_values()
    {
        var old = new MoeSiloOptions();
        var next = new MoeSiloOptions { MaxQueuedRequests = 7 };
        next.Control.Latency = next.Control.Latency with { TargetP95InterTokenSeconds = 0.25 };
        next.Limits = next.Limits with { MaxStopTokens = 3 };

        IReadOnlyList<OptionChange> changes = OptionsDiff.Between("Moe", old, next);

        Assert.Contains(new OptionChange("Moe:MaxQueuedRequests", "256", "7"), changes);
        Assert.Contains(new OptionChange("Moe:Control:Latency:TargetP95InterTokenSeconds", "0.1", "0.25"), changes);
        Assert.Contains(new OptionChange("Moe:Limits:MaxStopTokens", "16", "3"), changes);
        Assert.DoesNotContain(changes, c => c.Key == "Moe:Rank");
        Assert.Empty(OptionsDiff.Between("Moe", new MoeSiloOptions(), new MoeSiloOptions()));
        Assert.Equal("Moe:MaxQueuedRequests 256 → 7", changes.Single(c => c.Key == "Moe:MaxQueuedRequests").ToString());
    }

    [Fact]
    public void The_diff_hides_secret_values()
    {
        var old = new TelemetryHostOptions { Tokens = ["old-token"] };
        var next = new TelemetryHostOptions { Tokens = ["new-token", "second-token"], TraceSampleRatio = 0.5 };

        IReadOnlyList<OptionChange> changes = OptionsDiff.Between("Telemetry", old, next);

        Assert.Contains(new OptionChange("Telemetry:Tokens:0", "(secret)", "(secret)"), changes);
        Assert.Contains(new OptionChange("Telemetry:Tokens:1", "(secret)", "(secret)"), changes);
        Assert.Contains(new OptionChange("Telemetry:TraceSampleRatio", "0.05", "0.5"), changes);
        Assert.DoesNotContain(changes, c => c.Old.Contains("token", StringComparison.Ordinal) || c.New.Contains("token", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Moe:Control:Latency:TargetP95InterTokenSeconds", true)]
    [InlineData("Moe:Control:Latency:FetchPriors:WarmSeconds", true)]
    [InlineData("Moe:Control:Latency:DriftHalfLife:Factor", true)]
    [InlineData("Moe:Control:Cost:DemoteMargin", true)]
    [InlineData("Moe:Control:MaxChangesPerInterval", true)]
    [InlineData("Moe:MaxQueuedRequests", true)]
    [InlineData("Telemetry:TraceSampleRatio", true)]
    [InlineData("Moe:Control:Latency:DemandHalfLifeIntervals", false)]
    [InlineData("Moe:Control:Interval", false)]
    [InlineData("Moe:MaxQueuedRequestsX", false)]
    [InlineData("Moe:HotBudgetBytes", false)]
    [InlineData("Moe:Limits:MaxTokens", false)]
    [InlineData("Silo:HttpPort", false)]
    public void Only_the_listed_keys_are_live(string key, bool live) => Assert.Equal(live, LiveOptions.IsLive(key));

    [Theory]
    [InlineData("Telemetry:Tokens:0", true)]
    [InlineData("Telemetry:OperatorTokens", true)]
    [InlineData("Moe:Telemetry:PseudonymKey", true)]
    [InlineData("Moe:Security:CertificatePassword", true)]
    [InlineData("Moe:FrontDoor:ApiKey", true)]
    [InlineData("Moe:Control:Latency:TargetP95InterTokenSeconds", false)]
    [InlineData("Moe:Limits:MaxStopTokens", false)]
    public void Secrets_are_recognised_by_their_key(string key, bool secret) => Assert.Equal(secret, OptionsDiff.IsSecret(key));

    [Fact]
    public void A_reload_is_recorded_as_applied_and_waiting_for_a_restart()
    {
        var reload = new OptionsReload("Moe", [new("Moe:HotBudgetBytes", "1", "2"), new("Moe:MaxQueuedRequests", "256", "7")], null);
        DateTimeOffset at = DateTimeOffset.UnixEpoch;

        IReadOnlyList<ControlDecisionRecord> records = ConfigurationReloadLog.Records(reload, 2, "configuration file /x.json on rank 2", at);

        Assert.Equal(2, records.Count);
        Assert.All(records, r => Assert.Equal(("configuration", 2, at), (r.Controller, r.Rank!.Value, r.At)));
        Assert.Equal(("Moe:MaxQueuedRequests 256 → 7", "applied"), (records[0].Change, records[0].Outcome));
        Assert.Contains("/x.json", records[0].Reason, StringComparison.Ordinal);
        Assert.Equal(("Moe:HotBudgetBytes 1 → 2", "refused"), (records[1].Change, records[1].Outcome));
        Assert.Contains("restart", records[1].Reason, StringComparison.Ordinal);

        ControlDecisionRecord refused = Assert.Single(ConfigurationReloadLog.Records(new OptionsReload("Moe", [], "Moe:MaxQueuedRequests must be at least 1, was 0"), 2, "file", at));
        Assert.Equal("refused", refused.Outcome);
        Assert.Contains("Moe:MaxQueuedRequests must be at least 1, was 0", refused.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_edited_file_is_taken_live_and_a_bad_edit_is_refused_with_the_old_values_kept()
    {
        string file = Path.Combine(_directory, "live.json");
        await File.WriteAllTextAsync(file, """{ "Moe": { "MaxQueuedRequests": 100 } }""");
        IConfiguration configuration = new ConfigurationBuilder().AddJsonFile(file, optional: false, reloadOnChange: true).Build();
        using ServiceProvider services = new ServiceCollection().AddMoeOptions(configuration).BuildServiceProvider();
        var monitor = services.GetRequiredService<ReloadingOptionsMonitor<MoeSiloOptions>>();
        Assert.Same(monitor, services.GetRequiredService<IOptionsMonitor<MoeSiloOptions>>());
        Assert.Equal(100, monitor.CurrentValue.MaxQueuedRequests);
        var reloads = new List<OptionsReload>();
        var seen = new List<int>();
        monitor.Reloaded += r => { lock (reloads) reloads.Add(r); };
        using IDisposable? listener = monitor.OnChange(o => { lock (seen) seen.Add(o.MaxQueuedRequests); });

        await File.WriteAllTextAsync(file, """{ "Moe": { "MaxQueuedRequests": 7, "HotBudgetBytes": 1048576 } }""");
        await Eventually.UntilAsync("the edit is taken", TimeSpan.FromSeconds(30), () => { lock (reloads) return Task.FromResult(reloads.Count > 0); },
            () => $"MaxQueuedRequests {monitor.CurrentValue.MaxQueuedRequests}");
        Assert.Equal(7, monitor.CurrentValue.MaxQueuedRequests);
        OptionsReload applied;
        lock (reloads) applied = reloads.Single(r => r.Refused is null);
        Assert.Equal([new OptionChange("Moe:MaxQueuedRequests", "100", "7")], applied.Live);
        Assert.Equal([new OptionChange("Moe:HotBudgetBytes", "134217728", "1048576")], applied.NeedRestart);
        lock (seen) Assert.Equal([7], seen);

        await File.WriteAllTextAsync(file, """{ "Moe": { "MaxQueuedRequests": 0, "HotBudgetBytes": 1048576 } }""");
        await Eventually.UntilAsync("the bad edit is refused", TimeSpan.FromSeconds(30), () => { lock (reloads) return Task.FromResult(reloads.Any(r => r.Refused is not null)); },
            () => "no refusal reported");
        OptionsReload refused;
        lock (reloads) refused = reloads.First(r => r.Refused is not null);
        Assert.Contains("Moe:MaxQueuedRequests", refused.Refused, StringComparison.Ordinal);
        Assert.Equal(7, monitor.CurrentValue.MaxQueuedRequests);
        lock (seen) Assert.Equal([7], seen);

        await File.WriteAllTextAsync(file, """{ "Moe": { "MaxQueuedRequests": "many", "HotBudgetBytes": 1048576 } }""");
        await Eventually.UntilAsync("the unconvertible edit is refused", TimeSpan.FromSeconds(30),
            () => { lock (reloads) return Task.FromResult(reloads.Any(r => r.Refused?.Contains("many", StringComparison.Ordinal) == true)); }, () => "no refusal naming the value");
        Assert.Equal(7, monitor.CurrentValue.MaxQueuedRequests);
    }

    [Fact]
    public void A_bad_binding_at_start_still_throws()
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Moe:MaxQueuedRequests"] = "0" }).Build();
        using ServiceProvider services = new ServiceCollection().AddMoeOptions(configuration).BuildServiceProvider();
        Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptionsMonitor<MoeSiloOptions>>().CurrentValue);
    }

    [Fact]
    public void The_control_loop_takes_new_targets_and_refuses_a_new_interval_or_half_life()
    {
        var options = new TierControlLoopOptions();
        var loop = new TierControlLoop("m", options, new NoPort(), TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);

        TierControlLoopOptions targets = options with { Latency = options.Latency with { TargetP95InterTokenSeconds = 0.5 }, Cost = options.Cost with { DemoteMargin = 0.3 } };
        loop.Reconfigure(targets);
        Assert.Equal(0.5, loop.Options.Latency.TargetP95InterTokenSeconds);

        Assert.Throws<ArgumentException>(() => loop.Reconfigure(targets with { Interval = TimeSpan.FromSeconds(1) }));
        Assert.Throws<ArgumentException>(() => loop.Reconfigure(targets with { Latency = targets.Latency with { DemandHalfLifeIntervals = 9 } }));
        Assert.Throws<ArgumentException>(() => loop.Reconfigure(targets with { Latency = targets.Latency with { GrowStep = 0 } }));
        Assert.Same(targets, loop.Options);
        Assert.Throws<ArgumentException>(() => new LatencyController(new LatencyControllerOptions()).Reconfigure(new LatencyControllerOptions { DemandHalfLifeIntervals = 9 }));
        Assert.Throws<ArgumentException>(() => new CostController(new CostControllerOptions()).Reconfigure(new CostControllerOptions { DemandHalfLifeIntervals = 9 }));
    }

    sealed class NoPort : ITierControlPort
    {
        public IReadOnlyList<int> LiveRanks() => [];
        public IReadOnlyDictionary<Serving.Tiers.ExpertKey, Serving.Tiers.Tier> Pins() => new Dictionary<Serving.Tiers.ExpertKey, Serving.Tiers.Tier>();
        public SamplingSetting Sampling() => new(0, 1);
        public Task<ClusterReading> ReadClusterAsync(TimeSpan interval, CancellationToken cancellationToken) => Task.FromResult(ClusterReading.None);
        public Task<RankReading> ReadRankAsync(int rank, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task<long> WriteAsync(int rank, TierSetWrite write, CancellationToken cancellationToken) => throw new NotSupportedException();
        public Task SetSamplingAsync(SamplingChange sampling, CancellationToken cancellationToken) => Task.CompletedTask;
        public Task<ControlRecord?> BalanceAsync(bool dryRun, CancellationToken cancellationToken) => Task.FromResult<ControlRecord?>(null);
        public Task RecordAsync(IReadOnlyList<ControlRecord> records, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
