using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using System.Text.Json;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Export;
using MoeRuntime.Telemetry.Summaries;
using Orleans.Runtime;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>
/// Ships the rank's telemetry every interval: samples the gauges that are read rather than recorded
/// (queue depth, tier memory), builds the summary, sends it to the rank's shard aggregator and each
/// routing digest to the shard its request hashes to, and feeds the same summary to the rank's /metrics.
/// </summary>
public sealed class TelemetryAgent(
    RankTelemetry telemetry, RouterRuntime router, ModelHost host, IGrainFactory grains, IOptions<TelemetryOptions> options,
    PrometheusExporter exporter, OpenTelemetryBridge openTelemetry, ILogger<TelemetryAgent> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    readonly TelemetryOptions _options = options.Value;
    readonly CancellationTokenSource _stopping = new();
    Task? _loop;
    const int ClusterRefreshIntervals = 5;
    int _failures, _intervals, _defects;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(TelemetryAgent), ServiceLifecycleStage.Active, Start, Stop);

    Task Start(CancellationToken cancellationToken)
    {
        telemetry.Started(host.LoadDuration, host.StoreSetupDuration, DateTime.Now - System.Diagnostics.Process.GetCurrentProcess().StartTime);
        telemetry.Built(host.Device.type == TorchSharp.DeviceType.CUDA ? "cuda" : "cpu");
        telemetry.Serving(host.Revision, host.ManifestDigest);
        if (_options.Enabled) _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    async Task Stop(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        if (_loop is not null) await _loop.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    async Task RunAsync()
    {
        using var timer = new PeriodicTimer(_options.Interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    await ShipAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A defect in one interval must not end the rank's telemetry: the controllers read what it ships.
                    telemetry.IntervalFailed();
                    if (_defects++ == 0) logger.LogError(e, "Telemetry interval failed; carrying on every {Interval} (logged once)", _options.Interval);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// One interval: collect, export locally, ship to the aggregators. Export and shipping failures are logged here; a
    /// defect in collecting throws to the loop, which logs it and carries on with the next interval.
    /// </summary>
    public async Task ShipAsync()
    {
        telemetry.QueueDepth(router.Batcher.QueueDepth);
        telemetry.ObserveStore(host.Store.Snapshot());
        telemetry.ObserveProcess();
        RankSummary summary = telemetry.Collector.CollectSummary();
        try
        {
            exporter.Add(summary);
            openTelemetry.Add(summary);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // /metrics misses this interval; the aggregators, which the controllers read, still get it.
            telemetry.IntervalFailed();
            if (_defects++ == 0) logger.LogError(e, "Exporting telemetry to /metrics failed; shipping to the aggregators anyway (logged once)");
        }
        try
        {
            int shards = _options.Shards;
            var calls = new List<Task>
            {
                grains.GetGrain<IShardAggregatorGrain>(host.Rank % shards).ReportAsync(SummaryCodec.Encode(WithoutDigests(summary))),
            };
            foreach (var group in summary.RoutingDigests.GroupBy(d => (int)(d.RequestHash % (ulong)shards)))
            {
                ulong[] triples = group.SelectMany(d => new[] { d.RequestHash, (ulong)(uint)d.Layer << 32 | (uint)d.TokenPosition, d.Digest }).ToArray();
                calls.Add(grains.GetGrain<IShardAggregatorGrain>(group.Key).ReportDigestsAsync(host.Rank.ToString(), triples));
            }
            await Task.WhenAll(calls).ConfigureAwait(false);
            if (++_intervals % ClusterRefreshIntervals == 0) await RefreshClusterAsync().ConfigureAwait(false);
            _failures = 0;
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or SummaryFormatException)
        {
            // One line per outage, not one per second.
            if (_failures++ == 0) logger.LogWarning(e, "Shipping telemetry failed; retrying every {Interval}", _options.Interval);
        }
    }

    /// <summary>Brings the cluster aggregator's quantiles, burn rates and mismatches into this rank's /metrics.</summary>
    async Task RefreshClusterAsync()
    {
        IClusterAggregatorGrain cluster = grains.GetGrain<IClusterAggregatorGrain>(0);
        var views = new List<TelemetryView>();
        foreach (string window in new[] { "1m", "5m", "1h" })
            views.Add(JsonSerializer.Deserialize<TelemetryView>(await cluster.GetViewAsync(window).ConfigureAwait(false), TelemetryJson.Options)!);
        exporter.SetCluster(views);
    }

    /// <summary>Digests travel to the shard of their request, not with the rank's summary.</summary>
    static RankSummary WithoutDigests(RankSummary s) => new()
    {
        RankId = s.RankId, Model = s.Model, Sequence = s.Sequence, IntervalStart = s.IntervalStart, IntervalEnd = s.IntervalEnd,
        SampleEveryNTokens = s.SampleEveryNTokens, Counters = s.Counters, Gauges = s.Gauges, Sketches = s.Sketches,
        ExpertHits = s.ExpertHits, ExpertComputeNanoseconds = s.ExpertComputeNanoseconds, LayerComputeNanoseconds = s.LayerComputeNanoseconds,
        TierHits = s.TierHits, TierMisses = s.TierMisses, TierFetchNanoseconds = s.TierFetchNanoseconds, RoutingDigests = [],
    };
}
