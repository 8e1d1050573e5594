using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Routing;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Grains.Tiers;
using MoeRuntime.Serving.Dispatch;
using MoeRuntime.Serving.Tiers;
using MoeRuntime.Telemetry.Collection;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Experts;

/// <summary>
/// The experts' work on this rank, one instance per silo: an expert's tensors are leased hot from the rank's tier store
/// (registering the expert in its policy tier on first use), the FFN runs on the rows, the result is checked finite, and
/// sampled rows have their routing re-checked. An expert that produces NaN or infinity, or whose weights fail their SHA-256
/// check, is quarantined on this rank (<see cref="CopyQuarantine"/>, one per expert, since every copy of it here reads the
/// same weights): its calls fail at once, so the router tries another copy, until a back-off passes and a fresh read from
/// disk is tried. <see cref="ExpertGrain"/> is the front other ranks call; the router on this rank calls it directly
/// (<see cref="ComputeAsync(ExpertKey, bool, Tensor, RoutingCheck?, CancellationToken)"/>), without a message or a payload.
/// Calls and tokens are counted per copy (the default grain's and this rank's pinned replica's) as their grains report them.
/// </summary>
public sealed class ExpertExecutor
{
    /// <summary>The first wait before a quarantined expert is tried again; doubles with each failed try.</summary>
    static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    /// <summary>The longest wait between two tries of a quarantined expert.</summary>
    static readonly TimeSpan LastRetry = TimeSpan.FromMinutes(5);

    readonly ModelHost _host;
    readonly RoutingGates _gates;
    readonly RankTierPolicy _policy;
    readonly RankTelemetry _telemetry;
    readonly TimeProvider _time;
    readonly ILogger<ExpertExecutor> _logger;
    readonly ExpertState?[] _experts;
    readonly Lock _registration = new();

    public ExpertExecutor(ModelHost host, RoutingGates gates, RankTierPolicy policy, RankTelemetry telemetry, TimeProvider time, ILogger<ExpertExecutor> logger)
    {
        _host = host;
        _gates = gates;
        _policy = policy;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
        _experts = new ExpertState?[host.Config.LayerCount * host.Config.ExpertCount];
    }

    /// <summary>Per expert on this rank: its quarantine and its copies' counts.</summary>
    sealed class ExpertState(ExpertKey key)
    {
        public readonly ExpertKey Key = key;
        public readonly Lock Gate = new();
        public readonly CopyQuarantine Quarantine = new(FirstRetry, LastRetry);
        public long DefaultCalls, DefaultTokens, ReplicaCalls, ReplicaTokens;

        public void Count(bool replica, int rows)
        {
            if (replica)
            {
                Interlocked.Increment(ref ReplicaCalls);
                Interlocked.Add(ref ReplicaTokens, rows);
            }
            else
            {
                Interlocked.Increment(ref DefaultCalls);
                Interlocked.Add(ref DefaultTokens, rows);
            }
        }
    }

    /// <summary>
    /// Checks that <paramref name="key"/> is an expert of the served model and registers it with the rank's tier store (in
    /// its policy tier, or the next colder one with room) unless it already is.
    /// </summary>
    /// <exception cref="MoeRequestException">Another model, or an expert the model does not have.</exception>
    public void Activate(ExpertKey key)
    {
        _host.EnsureServes(key.Model);
        if ((uint)key.Layer >= (uint)_host.Config.LayerCount || (uint)key.Expert >= (uint)_host.Config.ExpertCount)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {key} does not exist in a model of {_host.Config.LayerCount} layers x {_host.Config.ExpertCount} experts");
        int slot = key.Layer * _host.Config.ExpertCount + key.Expert;
        if (Volatile.Read(ref _experts[slot]) is not null) return;
        lock (_registration)
        {
            if (_experts[slot] is not null) return;
            if (!_host.Store.Experts.Contains(key)) Register(key, _policy.TierFor(key));
            Volatile.Write(ref _experts[slot], new ExpertState(key));
        }
    }

    /// <summary>Registers in the wanted tier, or the next colder one that has room.</summary>
    void Register(ExpertKey key, Tier wanted)
    {
        for (Tier tier = wanted; ; tier++)
        {
            try
            {
                _host.Store.Register(key, tier);
                return;
            }
            catch (InvalidOperationException e) when (tier < Tier.Cold)
            {
                _logger.LogWarning("Expert {Expert} does not fit in {Tier} ({Reason}); trying {Colder}", key, tier, e.Message, tier + 1);
            }
        }
    }

    ExpertState StateOf(ExpertKey key)
    {
        int slot = key.Layer * _host.Config.ExpertCount + key.Expert;
        if ((uint)key.Layer < (uint)_host.Config.LayerCount && (uint)key.Expert < (uint)_host.Config.ExpertCount
            && key.Model == _host.ModelName && Volatile.Read(ref _experts[slot]) is { } state)
            return state;
        Activate(key);
        return _experts[slot]!;
    }

    /// <summary>
    /// Runs the expert on rows sent over the wire [n, hidden] and returns [n, hidden] with how the call was spent
    /// (<see cref="ExpertTiming"/>). <paramref name="replica"/> says which copy's counts the call adds to.
    /// </summary>
    /// <exception cref="MoeRequestException">The expert is quarantined, failed its check now, or the rows are not [n, hidden].</exception>
    public async Task<TensorPayload> ComputeAsync(ExpertKey key, bool replica, TensorPayload tokens, RoutingCheck? check, CancellationToken cancellationToken)
    {
        long entered = Stopwatch.GetTimestamp();
        ExpertState state = StateOf(key);
        Refuse(state);
        if (tokens.Columns != _host.Config.HiddenSize)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"expert {key} takes rows of {_host.Config.HiddenSize} values, got {tokens.Columns}");
        using Activity? span = StartSpan(key, tokens.Rows);
        ExpertLease lease = await LeaseAsync(state, span, cancellationToken).ConfigureAwait(false);
        using (lease)
        using (var scope = NewDisposeScope())
        {
            long started = Stopwatch.GetTimestamp();
            Tensor input = TensorPayloads.ToTensor(tokens, _host.Device);
            long decoded = Stopwatch.GetTimestamp();
            Tensor result = lease.Expert.Forward(input);
            if (Passed(state, replica, input, result, check, started, lease))
            {
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
        throw Flagged(state, tokens.Rows, span);
    }

    /// <summary>
    /// A prefetch hint for an expert this rank computes in-process: what its grain does with a hint (register it, then let the
    /// tier store start bringing it hot), without the message. Never waits; the store logs and counts its own failures.
    /// </summary>
    public void Prefetch(ExpertKey key)
    {
        StateOf(key);
        _host.Store.Prefetch(key);
    }

    /// <summary>
    /// Runs the expert in-process on rows [n, hidden] of this rank's router: no message, no payload. The result [n, hidden]
    /// belongs to the caller (outside any dispose scope; the caller disposes it); <paramref name="computeTicks"/> is the
    /// Stopwatch time the call took, lease included.
    /// </summary>
    /// <exception cref="MoeRequestException">The expert is quarantined or failed its check now.</exception>
    public async Task<(Tensor Output, long Entered, long ComputeTicks)> ComputeAsync(ExpertKey key, bool replica, Tensor rows, RoutingCheck? check,
        CancellationToken cancellationToken)
    {
        long entered = Stopwatch.GetTimestamp();
        ExpertState state = StateOf(key);
        Refuse(state);
        int count = (int)rows.shape[0];
        using Activity? span = StartSpan(key, count);
        ExpertLease lease = await LeaseAsync(state, span, cancellationToken).ConfigureAwait(false);
        using (lease)
        using (var scope = NewDisposeScope())
        {
            long started = Stopwatch.GetTimestamp();
            Tensor result = lease.Expert.Forward(rows);
            if (Passed(state, replica, rows, result, check, started, lease))
            {
                result.DetachFromDisposeScope();
                return (result, entered, Stopwatch.GetTimestamp() - entered);
            }
        }
        throw Flagged(state, count, span);
    }

    /// <summary>
    /// Runs several experts of one layer on their rows (a rank call, <see cref="IRankExpertsGrain"/>), one after another,
    /// each counted as a call of its default grain (or, with <paramref name="replica"/>, of this rank's replica). An expert's
    /// own fault is its entry in the answer's faults, with zeros for its rows; the others still answer.
    /// </summary>
    /// <exception cref="MoeRequestException">The call's lists do not agree with each other or with its rows.</exception>
    public async Task<RankExpertsAnswer> ComputeManyAsync(RankExpertsCall call, bool replica, CancellationToken cancellationToken)
    {
        long entered = Stopwatch.GetTimestamp();
        Validate(call);
        ExpertFault?[]? faults = null;
        long started = Stopwatch.GetTimestamp();
        using Tensor input = TensorPayloads.ToTensor(call.Rows, _host.Device);
        using Tensor output = zeros_like(input);
        long decoded = Stopwatch.GetTimestamp();
        for (int i = 0, offset = 0; i < call.Experts.Length; offset += call.RowCounts[i], i++)
        {
            int count = call.RowCounts[i];
            if (count == 0) continue;
            Tensor rows;
            using (var scope = NewDisposeScope())
            {
                rows = input.narrow(0, offset, count);
                rows.DetachFromDisposeScope();
            }
            using (rows)
            {
                try
                {
                    (Tensor result, _, _) = await ComputeAsync(new ExpertKey(_host.ModelName, call.Layer, call.Experts[i]), replica, rows, call.Checks?[i],
                        cancellationToken).ConfigureAwait(false);
                    using (result)
                    using (var scope = NewDisposeScope())
                        output.narrow(0, offset, count).copy_(result);
                }
                catch (MoeRequestException e) when (e.Code is MoeErrorCode.ExpertFailure or MoeErrorCode.IntegrityFailure)
                {
                    faults ??= new ExpertFault?[call.Experts.Length];
                    string prefix = $"{e.Code}: ";
                    faults[i] = new ExpertFault(e.Code, e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message);
                }
            }
        }
        long computed = Stopwatch.GetTimestamp();
        TensorPayload answer = TensorPayloads.FromTensor(output, TensorPayloads.Format(call.Rows.Element));
        long encoded = Stopwatch.GetTimestamp();
        return new RankExpertsAnswer(answer with
        {
            Timing = new ExpertTiming(entered, Nanoseconds(decoded - started), Nanoseconds(computed - decoded + started - entered), Nanoseconds(encoded - computed)),
        }, faults);
    }

    void Validate(RankExpertsCall call)
    {
        if (call.RowCounts.Length != call.Experts.Length)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"a rank call lists {call.Experts.Length} experts but {call.RowCounts.Length} row counts");
        if (call.Checks is { } checks && checks.Length != call.Experts.Length)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"a rank call lists {call.Experts.Length} experts but {checks.Length} routing checks");
        if (call.Rows.Columns != _host.Config.HiddenSize)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"experts take rows of {_host.Config.HiddenSize} values, got {call.Rows.Columns}");
        long total = 0;
        foreach (int count in call.RowCounts)
        {
            if (count < 0) throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"a rank call's row count is negative ({count})");
            total += count;
        }
        if (total != call.Rows.Rows)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"a rank call's row counts add up to {total}, its payload holds {call.Rows.Rows} rows");
    }


    void Refuse(ExpertState state)
    {
        // Quarantined: calls fail at once (the router tries another copy) until the back-off is over; then one call tries
        // the expert again, from a fresh read of its file.
        lock (state.Gate)
        {
            if (state.Quarantine.Refuses(_time.GetUtcNow()))
                throw new MoeRequestException(state.Quarantine.Reason == QuarantineReason.Nan ? MoeErrorCode.ExpertFailure : MoeErrorCode.IntegrityFailure,
                    state.Quarantine.Message!);
        }
    }

    Activity? StartSpan(ExpertKey key, int rows)
    {
        Activity? span = ServingTracing.Source.StartActivity("moe.expert");
        span?.SetTag("moe.expert", key.ToString());
        span?.SetTag("moe.rank", _host.Rank);
        span?.SetTag("moe.tokens", rows);
        return span;
    }

    async Task<ExpertLease> LeaseAsync(ExpertState state, Activity? span, CancellationToken cancellationToken)
    {
        ExpertLease lease;
        try
        {
            lease = await _host.Store.AcquireAsync(state.Key, cancellationToken).ConfigureAwait(false);
        }
        catch (IntegrityException e)
        {
            _telemetry.IntegrityFailed();
            QuarantineReason reason = e.AgainstManifest ? QuarantineReason.Digest : QuarantineReason.Integrity;
            bool started;
            TimeSpan retry;
            lock (state.Gate)
            {
                started = state.Quarantine.Fail(reason, e.Message, _time.GetUtcNow());
                retry = state.Quarantine.RetryAfter;
            }
            if (started)
            {
                // Counted and logged once per quarantine; re-reads after the back-off that fail again only lengthen it.
                _telemetry.ExpertQuarantined(reason);
                _logger.LogError("Expert {Expert} failed its SHA-256 check on rank {Rank} ({Reason}); quarantined, re-read in {Retry}: {Error}",
                    state.Key, _host.Rank, reason, retry, e.Message);
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
        return lease;
    }

    /// <summary>True when the result is finite: the call is counted, and the sampled rows' routing re-checked.</summary>
    bool Passed(ExpertState state, bool replica, Tensor input, Tensor result, RoutingCheck? check, long started, ExpertLease lease)
    {
        if (!FiniteCheck.All(result)) return false;
        bool back;
        lock (state.Gate) back = state.Quarantine.Pass();
        if (back) _logger.LogWarning("Expert {Expert} passed its check on rank {Rank} again; back in service", state.Key, _host.Rank);
        int rows = (int)input.shape[0];
        state.Count(replica, rows);
        _telemetry.ExpertComputed(state.Key, rows, Stopwatch.GetElapsedTime(started), lease.FoundIn, lease.FetchTime);
        if (check is not null) Recheck(state.Key, input, check);
        return true;
    }

    /// <summary>Quarantines an expert whose output had NaN or infinity; the error its call fails with.</summary>
    MoeRequestException Flagged(ExpertState state, int rows, Activity? span)
    {
        string flagged = $"expert {state.Key} on rank {_host.Rank} produced NaN or infinity and is flagged";
        bool started;
        TimeSpan retry;
        lock (state.Gate)
        {
            started = state.Quarantine.Fail(QuarantineReason.Nan, flagged, _time.GetUtcNow());
            retry = state.Quarantine.RetryAfter;
        }
        if (started)
        {
            // Counted and logged once per quarantine; tries after the back-off that fail again only lengthen it.
            _telemetry.ExpertQuarantined(QuarantineReason.Nan);
            _logger.LogError("Expert {Expert} produced NaN or infinity on {Tokens} tokens; flagged, tried again in {Retry}", state.Key, rows, retry);
        }
        // The try after the back-off reads the weights from disk again, checked against their digests.
        _host.Store.Discard(state.Key);
        span?.SetStatus(ActivityStatusCode.Error, "nan");
        return new MoeRequestException(MoeErrorCode.ExpertFailure, flagged);
    }

    static long Nanoseconds(long stopwatchTicks) => (long)(stopwatchTicks * (1e9 / Stopwatch.Frequency));

    /// <summary>Re-runs this layer's gate on the rows the router asked about and reports their digests.</summary>
    void Recheck(ExpertKey key, Tensor input, RoutingCheck check)
    {
        var (chosen, chosenWeights, k) = _gates.Recheck(key.Layer, input, check.Rows);
        for (int i = 0; i < check.Rows.Length; i++)
            _telemetry.Collector.RecordRoutingDigest(check.Requests[i], key.Layer, (int)check.Positions[i],
                RoutingDigest.Compute(chosen.AsSpan(i * k, k), chosenWeights.AsSpan(i * k, k)));
    }

    /// <summary>How one copy of an expert on this rank is doing, for its grain's <see cref="IExpertGrain.GetInfoAsync"/>.</summary>
    public ExpertInfo Info(string grainKey, ExpertKey key, bool replica)
    {
        ExpertState state = StateOf(key);
        ExpertResidency residency = _host.Store.Snapshot().Expert(key);
        string? flagged;
        lock (state.Gate) flagged = state.Quarantine.Message;
        return new ExpertInfo
        {
            Key = grainKey,
            Rank = _host.Rank,
            Tier = TierNames.Of(residency.Resident),
            Calls = Interlocked.Read(ref replica ? ref state.ReplicaCalls : ref state.DefaultCalls),
            Tokens = Interlocked.Read(ref replica ? ref state.ReplicaTokens : ref state.DefaultTokens),
            Flagged = flagged,
        };
    }
}
