using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Grains.Tiers;
using MoeRuntime.Serving.Dispatch;
using MoeRuntime.Serving.Tiers;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Experts;

/// <summary>
/// One expert on its owning rank. The rank's tier store holds its tensors; a call leases them hot
/// (fetching from warm or cold on a miss), runs the FFN on all the tokens the router sent, and checks
/// the result is finite. A copy that produces NaN or infinity, or whose weights fail their SHA-256 check, is quarantined
/// (<see cref="CopyQuarantine"/>): its calls fail at once, so the router tries another copy, until a back-off passes and
/// a fresh read from disk is tried.
/// A replica (<c>model/layer/expert@rank</c>) is the same expert on another rank: it registers the expert
/// with that rank's tier store on activation, within that rank's budgets, like any other expert.
/// </summary>
[ExpertPlacement]
public sealed class ExpertGrain(ModelHost host, RoutingGates gates, RankTierPolicy policy, RankTelemetry telemetry, TimeProvider time, ILogger<ExpertGrain> logger)
    : Grain, IExpertGrain
{
    /// <summary>The first wait before a quarantined copy is tried again; doubles with each failed try.</summary>
    static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    /// <summary>The longest wait between two tries of a quarantined copy.</summary>
    static readonly TimeSpan LastRetry = TimeSpan.FromMinutes(5);

    ExpertKey _key;
    string _grainKey = "";
    long _calls, _tokens;
    readonly CopyQuarantine _quarantine = new(FirstRetry, LastRetry);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _grainKey = this.GetPrimaryKeyString();
        _key = GrainKeys.ParseExpert(_grainKey).Expert;
        host.EnsureServes(_key.Model);
        if ((uint)_key.Layer >= (uint)host.Config.LayerCount || (uint)_key.Expert >= (uint)host.Config.ExpertCount)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {_key} does not exist in a model of {host.Config.LayerCount} layers x {host.Config.ExpertCount} experts");
        if (!host.Store.Experts.Contains(_key)) Register(policy.TierFor(_key));
        return Task.CompletedTask;
    }

    /// <summary>Registers in the wanted tier, or the next colder one that has room.</summary>
    void Register(Tier wanted)
    {
        for (Tier tier = wanted; ; tier++)
        {
            try
            {
                host.Store.Register(_key, tier);
                return;
            }
            catch (InvalidOperationException e) when (tier < Tier.Cold)
            {
                logger.LogWarning("Expert {Expert} does not fit in {Tier} ({Reason}); trying {Colder}", _key, tier, e.Message, tier + 1);
            }
        }
    }

    public async Task<TensorPayload> ComputeAsync(TensorPayload tokens, RoutingCheck? check, CancellationToken cancellationToken)
    {
        // Quarantined: calls fail at once (the router tries another copy) until the back-off is over; then one call tries
        // the copy again, from a fresh read of its file.
        long entered = Stopwatch.GetTimestamp();
        if (_quarantine.Refuses(time.GetUtcNow()))
            throw new MoeRequestException(_quarantine.Reason == QuarantineReason.Nan ? MoeErrorCode.ExpertFailure : MoeErrorCode.IntegrityFailure, _quarantine.Message!);
        if (tokens.Columns != host.Config.HiddenSize)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {_key} takes rows of {host.Config.HiddenSize} values, got {tokens.Columns}");
        using Activity? span = ServingTracing.Source.StartActivity("moe.expert");
        span?.SetTag("moe.expert", _key.ToString());
        span?.SetTag("moe.rank", host.Rank);
        span?.SetTag("moe.tokens", tokens.Rows);
        ExpertLease lease;
        try
        {
            lease = await host.Store.AcquireAsync(_key, cancellationToken);
        }
        catch (IntegrityException e)
        {
            telemetry.IntegrityFailed();
            QuarantineReason reason = e.AgainstManifest ? QuarantineReason.Digest : QuarantineReason.Integrity;
            if (_quarantine.Fail(reason, e.Message, time.GetUtcNow()))
            {
                // Counted and logged once per quarantine; re-reads after the back-off that fail again only lengthen it.
                telemetry.ExpertQuarantined(reason);
                logger.LogError("Expert {Expert} failed its SHA-256 check on rank {Rank} ({Reason}); quarantined, re-read in {Retry}: {Error}",
                    _key, host.Rank, reason, _quarantine.RetryAfter, e.Message);
            }
            span?.SetStatus(ActivityStatusCode.Error, "integrity");
            throw new MoeRequestException(MoeErrorCode.IntegrityFailure, e.Message);
        }
        span?.SetTag("moe.tier", TierNames.Of(lease.FoundIn));
        if (lease.FoundIn != Tier.Hot && span is not null)
        {
            // The fetch already happened inside AcquireAsync; record it as the span it was.
            DateTimeOffset end = DateTimeOffset.UtcNow;
            using Activity? fetch = ServingTracing.Source.StartActivity("moe.tier_fetch", ActivityKind.Internal, span.Context, startTime: end - lease.FetchTime);
            fetch?.SetTag("moe.tier.from", TierNames.Of(lease.FoundIn));
            fetch?.SetEndTime(end.UtcDateTime);
        }
        using (lease)
        using (var scope = NewDisposeScope())
        {
            long started = Stopwatch.GetTimestamp();
            Tensor input = TensorPayloads.ToTensor(tokens, host.Device);
            long decoded = Stopwatch.GetTimestamp();
            Tensor result = lease.Expert.Forward(input);
            if (result.isfinite().all().item<bool>())
            {
                if (_quarantine.Pass())
                    logger.LogWarning("Expert {Expert} passed its check on rank {Rank} again; back in service", _key, host.Rank);
                _calls++;
                _tokens += tokens.Rows;
                telemetry.ExpertComputed(_key, tokens.Rows, Stopwatch.GetElapsedTime(started), lease.FoundIn, lease.FetchTime);
                if (check is not null) Recheck(input, check);
                long computed = Stopwatch.GetTimestamp();
                TensorPayload output = TensorPayloads.FromTensor(result, TensorPayloads.Format(tokens.Element));
                long encoded = Stopwatch.GetTimestamp();
                // The time before the rows were decoded (quarantine check, making the weights hot) counts as compute.
                return output with
                {
                    Timing = new ExpertTiming(entered, Nanoseconds(decoded - started), Nanoseconds(computed - decoded + started - entered),
                        Nanoseconds(encoded - computed)),
                };
            }
        }
        string flagged = $"expert {_key} on rank {host.Rank} produced NaN or infinity and is flagged";
        if (_quarantine.Fail(QuarantineReason.Nan, flagged, time.GetUtcNow()))
        {
            // Counted and logged once per quarantine; tries after the back-off that fail again only lengthen it.
            telemetry.ExpertQuarantined(QuarantineReason.Nan);
            logger.LogError("Expert {Expert} produced NaN or infinity on {Tokens} tokens; flagged, tried again in {Retry}", _key, tokens.Rows, _quarantine.RetryAfter);
        }
        // The try after the back-off reads the weights from disk again, checked against their digests.
        host.Store.Discard(_key);
        span?.SetStatus(ActivityStatusCode.Error, "nan");
        throw new MoeRequestException(MoeErrorCode.ExpertFailure, flagged);
    }

    static long Nanoseconds(long stopwatchTicks) => (long)(stopwatchTicks * (1e9 / Stopwatch.Frequency));

    /// <summary>Re-runs this layer's gate on the rows the router asked about and reports their digests.</summary>
    void Recheck(Tensor input, RoutingCheck check)
    {
        var (chosen, chosenWeights, k) = gates.Recheck(_key.Layer, input, check.Rows);
        for (int i = 0; i < check.Rows.Length; i++)
            telemetry.Collector.RecordRoutingDigest(check.Requests[i], _key.Layer, (int)check.Positions[i],
                RoutingDigest.Compute(chosen.AsSpan(i * k, k), chosenWeights.AsSpan(i * k, k)));
    }

    public Task PrefetchAsync()
    {
        host.Store.Prefetch(_key);
        return Task.CompletedTask;
    }

    public Task<ExpertInfo> GetInfoAsync()
    {
        ExpertResidency residency = host.Store.Snapshot().Expert(_key);
        return Task.FromResult(new ExpertInfo
        {
            Key = _grainKey,
            Rank = host.Rank,
            Tier = TierNames.Of(residency.Resident),
            Calls = _calls,
            Tokens = _tokens,
            Flagged = _quarantine.Message,
        });
    }
}
