using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// Records every configuration reload of this rank in the model's decision log (<see cref="IControlDecisionLogGrain"/>,
/// controller <c>configuration</c>): the changes applied live (key old → new), the changes that wait for a restart, and a
/// refused edit with why. Who: the rank and the file(s) it watches; the file itself does not say who edited it.
/// </summary>
public sealed partial class ConfigurationReloadLog(IServiceProvider services, IGrainFactory grains, IOptions<MoeSiloOptions> options,
    TimeProvider time, ILogger<ConfigurationReloadLog> logger) : IHostedService
{
    /// <summary>The decision log's controller name for configuration reloads.</summary>
    public const string Controller = "configuration";

    readonly List<Action> _unsubscribe = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        Follow(services.GetService<ReloadingOptionsMonitor<MoeSiloOptions>>());
        Follow(services.GetService<ReloadingOptionsMonitor<TelemetryHostOptions>>());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (Action unsubscribe in _unsubscribe) unsubscribe();
        _unsubscribe.Clear();
        return Task.CompletedTask;
    }

    void Follow<T>(ReloadingOptionsMonitor<T>? monitor) where T : class
    {
        if (monitor is null) return;
        Action<OptionsReload> record = reload => _ = RecordAsync(reload);
        monitor.Reloaded += record;
        _unsubscribe.Add(() => monitor.Reloaded -= record);
    }

    /// <summary>The decision-log entries one reload makes on <paramref name="rank"/>; <paramref name="source"/> says where it came from.</summary>
    public static IReadOnlyList<ControlDecisionRecord> Records(OptionsReload reload, int rank, string source, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(reload);
        var records = new List<ControlDecisionRecord>();
        if (reload.Refused is { } why)
        {
            records.Add(Record(at, rank, $"reload of {reload.Section} refused", $"{source}: {why}; the old values stay", "refused"));
            return records;
        }
        if (reload.Live is { Count: > 0 } live)
            records.Add(Record(at, rank, string.Join("; ", live), $"{source}: applied live", "applied"));
        if (reload.NeedRestart is { Count: > 0 } later)
            records.Add(Record(at, rank, string.Join("; ", later), $"{source}: needs a restart of the rank; the running values stay until then", "refused"));
        return records;
    }

    static ControlDecisionRecord Record(DateTimeOffset at, int rank, string change, string reason, string outcome) => new()
    {
        At = at,
        Controller = Controller,
        Rank = rank,
        Change = change,
        Reason = reason,
        Outcome = outcome,
    };

    async Task RecordAsync(OptionsReload reload)
    {
        MoeSiloOptions o = options.Value;
        try
        {
            IReadOnlyList<ControlDecisionRecord> records = Records(reload, o.Rank, Source(o.Rank), time.GetUtcNow());
            if (records.Count > 0) await grains.GetGrain<IControlDecisionLogGrain>(o.ModelName).RecordAsync([.. records]).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            NotRecorded(logger, reload.Section, e.Message);
        }
    }

    /// <summary>"configuration file /etc/moe/live.json on rank 2": the watched files, for the log's who.</summary>
    string Source(int rank)
    {
        string[] files = services.GetService<IConfiguration>() is IConfigurationRoot root
            ? [.. root.Providers.OfType<FileConfigurationProvider>().Where(p => p.Source.ReloadOnChange)
                .Select(p => p.Source.FileProvider?.GetFileInfo(p.Source.Path ?? "").PhysicalPath ?? p.Source.Path ?? "?")]
            : [];
        return files.Length == 0 ? $"configuration on rank {rank}" : $"configuration file {string.Join(", ", files)} on rank {rank}";
    }

    [LoggerMessage(1903, LogLevel.Warning, "A configuration reload of {Section} could not be recorded in the decision log: {Error}")]
    static partial void NotRecorded(ILogger logger, string section, string error);
}
