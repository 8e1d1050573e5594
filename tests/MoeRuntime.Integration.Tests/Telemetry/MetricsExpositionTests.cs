using System.Reflection;
using MoeRuntime.Grains;
using Xunit.Abstractions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>A live /metrics page after some load: promtool finds no problem in the moe_* families, and each one is catalogued.</summary>
public sealed class MetricsExpositionTests(TelemetrySilo silo, ITestOutputHelper output) : IClassFixture<TelemetrySilo>, IAsyncLifetime
{
    const int Requests = 4;

    /// <summary>Load first, so that the labelled families have series and the cluster gauges have values.</summary>
    public async Task InitializeAsync()
    {
        await silo.StreamAsync(Enumerable.Range(0, Requests).Select(i => $"Exposition {i}"), maxTokens: 8);
        await silo.UntilMetricsCountAsync(Requests);
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task PromtoolFindsNoProblemInTheMoeFamilies()
    {
        MetricsText metrics = await silo.ScrapeAsync();
        string[] problems = await Promtool.CheckMetricsAsync(metrics.Text);
        // promtool also lints the families prometheus-net and the .NET runtime export (for example
        // system_runtime_dotnet_timer_count, a gauge ending in _count); those are not ours to rename,
        // so they are only printed. Every problem line starts with the family it is about.
        foreach (string problem in problems.Where(p => !p.StartsWith("moe_", StringComparison.Ordinal))) output.WriteLine($"not ours: {problem}");
        Assert.Empty(problems.Where(p => p.StartsWith("moe_", StringComparison.Ordinal)).Distinct());
        Assert.Contains("moe_requests_total", metrics.Families());
    }

    [Fact]
    public async Task BuildInfoAndProcessMemoryAreExported()
    {
        MetricsText metrics = await silo.ScrapeAsync();
        Assert.Equal(1, metrics.Sum("moe_build_info", ("model", TelemetrySilo.ModelName), ("backend", "cpu")));
        // The silo and this test are built from the same checkout, so the SDK appends "+commit" to both informational
        // versions (not necessarily the same commit: an incremental build recompiles only what changed).
        string informational = typeof(MetricsExpositionTests).Assembly
            .GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        int plus = informational.IndexOf('+', StringComparison.Ordinal);
        string commit = Assert.Single(metrics.LabelValues("moe_build_info", "commit"));
        Assert.Matches(plus < 0 ? "^unknown$" : "^[0-9a-f]{7,40}$", commit);
        Assert.Equal([plus < 0 ? informational : informational[..plus]], metrics.LabelValues("moe_build_info", "version"));
        double resident = metrics.Sum("moe_process_memory_bytes", ("kind", "resident"));
        double heap = metrics.Sum("moe_process_memory_bytes", ("kind", "managed_heap"));
        // libtorch alone maps more than 64 MB; a managed heap is never empty once a silo runs.
        Assert.True(resident > 64 << 20, $"resident {resident} bytes");
        Assert.True(heap > 0 && heap < resident, $"managed heap {heap} bytes of resident {resident}");
    }

    [Fact]
    public async Task EveryExportedMoeFamilyIsInTheCatalogue()
    {
        IReadOnlyList<string> exported = (await silo.ScrapeAsync()).Families().Where(f => f.StartsWith("moe_", StringComparison.Ordinal)).ToArray();
        HashSet<string> catalogued = MetricCatalogue.Names();
        Assert.True(exported.Count > 10, $"only {exported.Count} moe_* families exported");
        string[] missing = exported.Where(f => !catalogued.Contains(f)).ToArray();
        Assert.True(missing.Length == 0, $"exported but not in {MetricCatalogue.Path}: {string.Join(", ", missing)}");
    }

    /// <summary>An open stream is counted in moe_active_streams while it is open and no longer once the client stops reading.</summary>
    [Fact]
    public async Task AnOpenStreamIsCountedUntilTheClientStopsReadingIt()
    {
        IRouterGrain router = silo.Connection.Client.GetGrain<IRouterGrain>(TelemetrySilo.ModelName);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        StreamedRequest open = StreamedRequest.Start(router, "An open stream", 480, stop.Token);
        await open.FirstToken.WaitAsync(TimeSpan.FromSeconds(30));
        await Eventually.UntilAsync("moe_active_streams counts the open stream", TimeSpan.FromSeconds(20),
            async () => (await silo.ScrapeAsync()).Sum("moe_active_streams", ("route", "stream")) >= 1, silo.Diagnostics);
        Assert.False(open.Ended.IsCompleted, "the stream ended before its count was seen; make it longer");

        stop.Cancel();
        await open.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        await Eventually.UntilAsync("moe_active_streams back to 0", TimeSpan.FromSeconds(20),
            async () => (await silo.ScrapeAsync()).Sum("moe_active_streams", ("route", "stream")) == 0, silo.Diagnostics);
    }
}
