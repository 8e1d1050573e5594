using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Security;
using MoeRuntime.Telemetry.Aggregation;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Export;
using MoeRuntime.Telemetry.Security;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Grains.Telemetry;

/// <summary>
/// Merges its ranks' summaries (decoded as untrusted input; duplicates dropped and counted), keeps each rank's last
/// minute compactly for rank views (<see cref="RankWindows"/>; the merged windows are the cluster aggregator's, once),
/// compares routing digests of the requests hashed to it, and every interval forwards what
/// it merged to the cluster aggregator.
/// </summary>
public sealed class ShardAggregatorGrain(ModelHost host, IOptions<TelemetryOptions> options, TimeProvider time, ILogger<ShardAggregatorGrain> logger,
    CallerAuthentication authentication, RankDirectory rankDirectory, PrometheusExporter? exporter = null)
    : Grain, IShardAggregatorGrain
{
    readonly TelemetryOptions _options = options.Value;
    readonly Dictionary<string, RankWindows> _rankWindows = new(StringComparer.Ordinal);
    readonly MismatchDetector _mismatches = new();
    RankTracker _ranks = null!;
    MergedSnapshot _pending = null!;
    DateTimeOffset _pendingSince;
    long _sequence, _rejected, _forwardedCompared;
    Dictionary<(int, string, string), long> _forwardedCounts = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _ranks = new RankTracker(_options.Interval, _options.StaleAfterIntervals);
        _pending = new MergedSnapshot(host.Config.LayerCount, host.Config.ExpertCount);
        _pendingSince = time.GetUtcNow();
        this.RegisterGrainTimer(ForwardAsync, new GrainTimerCreationOptions(_options.Interval, _options.Interval) { Interleave = true });
        return Task.CompletedTask;
    }

    public Task ReportAsync(byte[] summary)
    {
        RankSummary decoded;
        try
        {
            decoded = SummaryCodec.Decode(summary);
            if (RankIds.Problem(decoded.RankId) is { } badRank) throw new SummaryFormatException($"summary of no rank: {badRank}");
            if (decoded.ExpertHits.Rows != host.Config.LayerCount || decoded.ExpertHits.Columns != host.Config.ExpertCount)
                throw new SummaryFormatException($"summary of a {decoded.ExpertHits.Rows} x {decoded.ExpertHits.Columns} model, this cluster serves {host.Config.LayerCount} x {host.Config.ExpertCount}");
        }
        catch (SummaryFormatException e)
        {
            Rejected(e.Problem switch { SummaryProblem.Oversized => "oversized", SummaryProblem.Version => "version", _ => "malformed" });
            logger.LogWarning("Rejected a summary of {Bytes} bytes: {Reason}", summary.Length, e.Message);
            return Task.CompletedTask;
        }
        if (!FromRank(decoded.RankId, nameof(ReportAsync))) return Task.CompletedTask;
        DateTimeOffset now = time.GetUtcNow();
        RankSummaryVerdict verdict = _ranks.Check(decoded, now);
        if (verdict == RankSummaryVerdict.Duplicate) Rejected("duplicate");
        if (verdict == RankSummaryVerdict.SequenceJump)
        {
            Rejected("sequence_jump");
            authentication.Denied("sequence_jump", MoeCaller.Current?.Identity ?? "unknown", $"summary of rank {decoded.RankId}", $"sequence {decoded.Sequence} jumps beyond what the elapsed intervals explain");
        }
        if (verdict != RankSummaryVerdict.Accepted) return Task.CompletedTask;
        _pending.Add(decoded);
        if (!_rankWindows.TryGetValue(decoded.RankId, out RankWindows? windows))
            _rankWindows[decoded.RankId] = windows = new RankWindows(host.Config.LayerCount, host.Config.ExpertCount);
        windows.Add(decoded);
        return Task.CompletedTask;
    }

    public Task ReportDigestsAsync(string rank, ulong[] triples)
    {
        if (!FromRank(rank, nameof(ReportDigestsAsync))) return Task.CompletedTask;
        // The rank becomes a key of the mismatch counts and text in the views: only a rank's number is taken.
        if (RankIds.Problem(rank) is { } badRank)
        {
            Rejected("malformed");
            logger.LogWarning("Rejected {Digests} routing digests: {Reason}", triples.Length / 3, badRank);
            return Task.CompletedTask;
        }
        var records = new RoutingDigestRecord[triples.Length / 3];
        for (int i = 0; i < records.Length; i++)
        {
            ulong where = triples[3 * i + 1];
            records[i] = new RoutingDigestRecord(triples[3 * i], (int)(where >> 32), (int)(uint)where, triples[3 * i + 2]);
        }
        _mismatches.Observe(rank, records, time.GetUtcNow());
        return Task.CompletedTask;
    }

    public Task<byte[]> GetRankViewAsync(string rank, string window)
    {
        if (RankIds.Problem(rank) is { } badRank) throw new ArgumentException(badRank, nameof(rank));
        DateTimeOffset now = time.GetUtcNow();
        TelemetryWindow w = ViewBuilder.Parse(window);
        if (w > RankWindows.Horizon) throw new ArgumentException($"rank views cover 1m; the cluster view covers 5m and 1h");
        MergedSnapshot snapshot = _rankWindows.TryGetValue(rank, out RankWindows? windows)
            ? windows.Query(w, now)
            : new MergedSnapshot(host.Config.LayerCount, host.Config.ExpertCount);
        TelemetryView view = ViewBuilder.Build($"rank {rank}", w, snapshot, _ranks.Gauges(now, id => id == rank),
            new RankCounts(_rankWindows.ContainsKey(rank) ? 1 : 0, 0, []), new MismatchStatus(0, 0, [], []), _options.Slo, now);
        return Task.FromResult(JsonSerializer.SerializeToUtf8Bytes(view, TelemetryJson.Options));
    }

    /// <summary>
    /// Whether the caller may report for <paramref name="rank"/>: a silo only for its own rank. A caller that is not a
    /// silo's own services reports only without the internal key (development and in-process tests), never with it.
    /// </summary>
    bool FromRank(string rank, string what)
    {
        MoeCaller? caller = MoeCaller.Current;
        string? callerRank = caller?.Silo is { } silo ? rankDirectory.RankOf(silo)?.ToString() : null;
        bool allowed = caller?.Silo is not null ? callerRank == rank : authentication.Internal is null;
        if (!allowed)
        {
            Rejected("wrong_rank");
            authentication.Denied("summary_rank", caller?.Identity ?? "unknown", $"IShardAggregatorGrain.{what}",
                $"reported for rank '{rank}' from {(callerRank is null ? "a caller whose rank is unknown" : $"rank {callerRank}")}");
        }
        return allowed;
    }

    /// <summary>Counts a refused summary (or digest batch) for the shard report and, by reason, on this rank's /metrics.</summary>
    void Rejected(string reason)
    {
        _rejected++;
        exporter?.SummaryRejected(reason);
    }

    async Task ForwardAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        _ranks.Expire(now, _options.RankRetention);
        foreach (string gone in _rankWindows.Keys.Except(_ranks.Ranks.Select(r => r.RankId)).ToList()) _rankWindows.Remove(gone);
        var live = _ranks.Ranks.Where(r => !_ranks.IsStale(r, now)).ToList();
        var gauges = SnapshotSummaries.SumGauges(live.SelectMany(r => r.Gauges));
        RankSummary delta = _pending.ToSummary($"shard-{this.GetPrimaryKeyLong()}", host.ModelName, ++_sequence, _pendingSince, now, gauges, _options.SampleEveryNTokens);
        var report = new ShardReport
        {
            Shard = (int)this.GetPrimaryKeyLong(),
            Delta = SummaryCodec.Encode(delta),
            LiveRanks = live.Select(r => r.RankId).ToArray(),
            StaleRanks = _ranks.Ranks.Where(r => _ranks.IsStale(r, now)).Select(r => r.RankId).ToArray(),
            SummariesRejected = _rejected,
            DigestsCompared = _mismatches.Compared - _forwardedCompared,
            Mismatches = NewMismatches(),
        };
        _pending = new MergedSnapshot(host.Config.LayerCount, host.Config.ExpertCount);
        _pendingSince = now;
        _forwardedCompared = _mismatches.Compared;
        await GrainFactory.GetGrain<IClusterAggregatorGrain>(0).ReportShardAsync(report);
    }

    MismatchReport[] NewMismatches()
    {
        var reports = new List<MismatchReport>();
        foreach (var ((layer, a, b), count) in _mismatches.Counts)
        {
            long fresh = count - _forwardedCounts.GetValueOrDefault((layer, a, b));
            if (fresh <= 0) continue;
            // Every counted key has its newest mismatch here; the short Recent list holds only the last 100 of all keys.
            RoutingMismatch latest = _mismatches.Latest[(layer, a, b)];
            reports.Add(new MismatchReport(layer, a, b, fresh, latest.TokenPosition, latest.DigestA, latest.DigestB, latest.At));
        }
        _forwardedCounts = _mismatches.Counts.ToDictionary(c => c.Key, c => c.Value);
        return reports.ToArray();
    }
}
