using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Drift;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>
/// The cluster-wide merge of the shards' merges: windows over 1 minute, 5 minutes and 1 hour, the
/// ranks' state, routing mismatches, routing drift, and the views computed from them.
/// </summary>
public sealed class ClusterAggregatorGrain(ModelHost host, IOptions<TelemetryOptions> options, TimeProvider time, ILogger<ClusterAggregatorGrain> logger,
    IOptions<MoeSiloOptions>? moe = null)
    : Grain, IClusterAggregatorGrain
{
    const int RecentMismatches = 100;
    readonly TelemetryOptions _options = options.Value;
    readonly Dictionary<int, ShardReport> _latest = [];
    readonly Dictionary<(int Layer, string RankA, string RankB), long> _mismatchCounts = [];
    readonly LinkedList<RoutingMismatch> _recent = new();
    SlidingWindows _windows = null!;
    RankTracker _shards = null!;
    RoutingDriftTracker _drift = null!;
    long _compared;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _windows = new SlidingWindows(host.Config.LayerCount, host.Config.ExpertCount);
        _shards = new RankTracker(_options.Interval, _options.StaleAfterIntervals);
        _drift = new RoutingDriftTracker(host.Config.LayerCount, host.Config.ExpertCount, _options.RoutingDrift);
        return Task.CompletedTask;
    }

    public Task ReportShardAsync(ShardReport report)
    {
        RankSummary delta;
        try
        {
            delta = SummaryCodec.Decode(report.Delta);
        }
        catch (SummaryFormatException e)
        {
            logger.LogWarning("Rejected the report of shard {Shard}: {Reason}", report.Shard, e.Message);
            return Task.CompletedTask;
        }
        DateTimeOffset now = time.GetUtcNow();
        if (!_shards.Accept(delta, now)) return Task.CompletedTask;
        _windows.Add(delta);
        _drift.Add(delta.ExpertHits.Cells, delta.IntervalEnd);
        _latest[report.Shard] = report;
        _compared += report.DigestsCompared;
        foreach (MismatchReport m in report.Mismatches)
        {
            _mismatchCounts[(m.Layer, m.RankA, m.RankB)] = _mismatchCounts.GetValueOrDefault((m.Layer, m.RankA, m.RankB)) + m.Count;
            _recent.AddFirst(new RoutingMismatch(m.At, m.Layer, m.TokenPosition, 0, m.RankA, m.DigestA, m.RankB, m.DigestB));
            if (_recent.Count > RecentMismatches) _recent.RemoveLast();
        }
        return Task.CompletedTask;
    }

    public Task<byte[]> GetViewAsync(string window)
    {
        DateTimeOffset now = time.GetUtcNow();
        TelemetryWindow w = ViewBuilder.Parse(window);
        var fresh = _latest.Values.Where(r => _shards.Ranks.Any(s => s.RankId == $"shard-{r.Shard}" && !_shards.IsStale(s, now))).ToList();
        var live = fresh.SelectMany(r => r.LiveRanks).Distinct().ToList();
        var stale = _latest.Values.SelectMany(r => r.StaleRanks).Concat(_latest.Values.Except(fresh).SelectMany(r => r.LiveRanks))
            .Except(live).Distinct().Order().ToList();
        var mismatches = new MismatchStatus(_compared, _mismatchCounts.Values.Sum(),
            _mismatchCounts.Select(c => new MismatchCount(c.Key.Layer, c.Key.RankA, c.Key.RankB, c.Value)).OrderBy(c => c.Layer).ToList(),
            _recent.ToList());
        TelemetryView view = ViewBuilder.Build("cluster", w, _windows.Query(w, now), _shards.Gauges(now),
            new RankCounts(live.Count, stale.Count, stale), mismatches, _options.Slo, now) with { RoutingDrift = _drift.Compute(now) };
        // The shadow section carries the configured gate's verdict on the window's summed agreement (docs/drift.md).
        if (view.Shadow is { } shadow && moe?.Value.Shadow.Gate is { } gate)
            view = view with { Shadow = shadow with { Refusals = gate.Refusals(ShadowView.Agreement(shadow)) } };
        return Task.FromResult(JsonSerializer.SerializeToUtf8Bytes(view, TelemetryJson.Options));
    }
}
