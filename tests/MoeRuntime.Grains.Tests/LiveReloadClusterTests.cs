using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using Orleans.TestingHost;
using Xunit;

namespace MoeRuntime.Grains.Tests;

/// <summary>One rank that also reads a watched JSON file, as <c>moe-silo --config FILE</c> does.</summary>
public sealed class LiveReloadFixture() : ClusterFixture(1)
{
    public string File { get; } = Path.Combine(Directory.CreateTempSubdirectory("moe-live-").FullName, "live.json");

    protected override void ConfigureSiloHost(IHostApplicationBuilder host)
    {
        System.IO.File.WriteAllText(File, """{ "Moe": { "MaxQueuedRequests": 100 } }""");
        host.Configuration.AddJsonFile(File, optional: false, reloadOnChange: true);
    }

    public IServiceProvider Services => ((InProcessSiloHandle)Cluster.Silos[0]).SiloHost.Services;
}

/// <summary>A running rank takes an edited configuration file live, records it in the decision log, and refuses a bad edit.</summary>
public sealed class LiveReloadClusterTests(LiveReloadFixture cluster) : IClassFixture<LiveReloadFixture>
{
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task An_edited_file_changes_admission_and_is_in_the_decision_log_and_a_bad_edit_keeps_the_old_value()
    {
        RouterRuntime router = cluster.Services.GetRequiredService<RouterRuntime>();
        IControlDecisionLogGrain log = cluster.Client.GetGrain<IControlDecisionLogGrain>(ClusterFixture.ModelName);
        Assert.Equal(100, router.Batcher.MaxQueuedRequests);

        await File.WriteAllTextAsync(cluster.File, """{ "Moe": { "MaxQueuedRequests": 7, "Control": { "HysteresisRatio": 0.3 } } }""");
        await Eventually.UntilAsync("the router's admission bound follows the file", Limit,
            () => Task.FromResult(router.Batcher.MaxQueuedRequests == 7), () => $"MaxQueuedRequests {router.Batcher.MaxQueuedRequests}");
        ControlDecisionRecord[] recorded = await Eventually.Async(() => log.GetDecisionsAsync(50, ConfigurationReloadLog.Controller), d => d.Length > 0);
        ControlDecisionRecord applied = Assert.Single(recorded);
        Assert.Equal(("applied", 0), (applied.Outcome, applied.Rank!.Value));
        Assert.Contains("Moe:MaxQueuedRequests 100 → 7", applied.Change, StringComparison.Ordinal);
        Assert.Contains("Moe:Control:HysteresisRatio 0.1 → 0.3", applied.Change, StringComparison.Ordinal);
        Assert.Contains(cluster.File, applied.Reason, StringComparison.Ordinal);

        await File.WriteAllTextAsync(cluster.File, """{ "Moe": { "MaxQueuedRequests": 0, "Control": { "HysteresisRatio": 0.3 } } }""");
        ControlDecisionRecord[] after = await Eventually.Async(() => log.GetDecisionsAsync(50, ConfigurationReloadLog.Controller), d => d.Length > 1);
        ControlDecisionRecord refused = after[0];
        Assert.Equal("refused", refused.Outcome);
        Assert.Contains("Moe:MaxQueuedRequests must be at least 1, was 0", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(7, router.Batcher.MaxQueuedRequests);
    }
}
