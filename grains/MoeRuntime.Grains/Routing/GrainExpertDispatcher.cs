using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Layers;
using MoeRuntime.Serving.Dispatch;
using MoeRuntime.Serving.Placement;
using MoeRuntime.Telemetry.Collection;
using Orleans.Runtime;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// Sends each routed expert all of its tokens in one call to its expert grain, runs the calls of a
/// layer concurrently, and adds the weighted results back. Expert calls are pure functions of their input, so a call lost
/// with its rank is retried. An expert with replicas (see <see cref="PlacementMapCache"/>) has its rows split into
/// contiguous chunks, one per replica (<see cref="ReplicaChunks"/>), called concurrently and put back in order, so the
/// output is the same as with one replica. A call that loses its rank, or that a quarantined copy refuses (NaN, a failed
/// SHA-256), moves on to the next replica, then to the expert's default grain, then to a copy on this rank
/// (<see cref="ExpertRoute"/>); a call to another rank that has not answered within the hedge delay
/// (<see cref="HedgeDelay"/>) is also sent to that copy, and the first answer wins. Which rows get routing digests is <see cref="CheckedRows"/>' rule; the
/// next layers' experts are hinted by <see cref="GrainExpertPrefetcher"/>, which the model calls.
/// </summary>
internal sealed class GrainExpertDispatcher(IGrainFactory grains, ModelHost host, MoeSiloOptions options, RankTelemetry telemetry, PlacementMapCache placement,
    TelemetrySamplingCache sampling, RankDirectory ranks, ILogger<GrainExpertDispatcher> logger)
    : IExpertDispatcher
{
    long _calls, _bytesSent, _bytesReceived, _callTicks, _retries, _hedges;
    readonly ReplicaTurns _turns = new(host.Config.LayerCount * host.Config.ExpertCount);
    // Grain keys per expert slot (layer * experts + expert), built once: the per-layer path formats no strings.
    readonly string[] _defaultKeys = Keys(host, rank: null);
    readonly string[] _localKeys = Keys(host, host.Rank);
    readonly HedgeDelay? _hedge = options.ExpertCallHedgeAfter > TimeSpan.Zero
        ? new HedgeDelay(options.ExpertCallHedgeAfter, options.ExpertCallTimeout)
        : null;
    readonly ExpertDetours _detours = new(options.ExpertDetourPeriod);
    // Per slot, the copy on this rank when the expert's default grain lives on another live rank (null otherwise: one
    // rank alone, or this rank the owner, has nothing to hedge to); re-read from membership once a second.
    volatile string?[] _localCopies = new string?[host.Config.LayerCount * host.Config.ExpertCount];
    long _localCopiesDue;

    public long Calls => Interlocked.Read(ref _calls);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public TimeSpan CallTime => TimeSpan.FromTicks(Interlocked.Read(ref _callTicks));
    public long Retries => Interlocked.Read(ref _retries);
    /// <summary>Expert calls also sent to the copy on this rank because they had not answered within the hedge delay.</summary>
    public long Hedges => Interlocked.Read(ref _hedges);

    static string[] Keys(ModelHost host, int? rank)
    {
        var keys = new string[host.Config.LayerCount * host.Config.ExpertCount];
        for (int layer = 0; layer < host.Config.LayerCount; layer++)
            for (int expert = 0; expert < host.Config.ExpertCount; expert++)
                keys[layer * host.Config.ExpertCount + expert] = rank is { } r
                    ? GrainKeys.Replica(host.ModelName, layer, expert, r)
                    : GrainKeys.Expert(host.ModelName, layer, expert);
        return keys;
    }

    public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        placement.RefreshIfDue();
        ReplicaRoutes routes = placement.Current;
        int[] experts = plan.ActiveExperts().ToArray();
        using Activity? span = ServingTracing.Source.StartActivity("moe.expert_dispatch");
        span?.SetTag("moe.layer", layer);
        span?.SetTag("moe.experts", experts.Length);
        span?.SetTag("moe.tokens", plan.TokenCount);
        var payloads = new TensorPayload[experts.Length];
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < experts.Length; i++) payloads[i] = TensorPayloads.FromTensor(plan.Gather(moeInput, experts[i]), options.WireFormat);
        }

        CheckedRows?[] checks = RecordDigests(layer, plan, experts, rows);
        var calls = new Task<TensorPayload>[experts.Length];
        var answered = new long[experts.Length];
        long sent = Stopwatch.GetTimestamp();
        for (int i = 0; i < experts.Length; i++)
        {
            int slot = layer * host.Config.ExpertCount + experts[i];
            calls[i] = Stamped(routes.For(layer, experts[i]) is { } replicas
                ? SpreadAsync(replicas, slot, payloads[i], checks[i], cancellationToken)
                : CallAsync(RouteOf(slot), payloads[i], checks[i], cancellationToken), answered, i);
        }
        TensorPayload?[] results = await SettleAsync(calls, plan, experts, rows).ConfigureAwait(false);
        long settled = Stopwatch.GetTimestamp();
        telemetry.Dispatched(payloads.Sum(p => (long)p.Data.Length), results.Sum(r => (long)(r?.Data.Length ?? 0)), Stopwatch.GetElapsedTime(started), plan.TokenCount);

        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < experts.Length; i++)
                if (results[i] is { } result) plan.Accumulate(output, experts[i], TensorPayloads.ToTensor(result, host.Device));
        }
        telemetry.DispatchTimed(layer, Timestamps(started, sent, answered, results, settled, Stopwatch.GetTimestamp()));
    }

    /// <summary>The layer's dispatch timestamps, with the call that answered last as the slowest.</summary>
    static DispatchTimestamps Timestamps(long started, long sent, long[] answered, TensorPayload?[] results, long settled, long combined)
    {
        int slowest = -1;
        for (int i = 0; i < results.Length; i++)
            if (results[i] is not null && (slowest < 0 || answered[i] > answered[slowest])) slowest = i;
        if (slowest < 0) return new DispatchTimestamps(started, sent, settled, 0, 0, 0, 0, settled, combined);
        ExpertTiming? timing = results[slowest]!.Timing;
        return new DispatchTimestamps(started, sent, answered[slowest], timing?.Started ?? 0, Ticks(timing?.DecodeNanoseconds),
            Ticks(timing?.ComputeNanoseconds), Ticks(timing?.EncodeNanoseconds), settled, combined);
    }

    static long Ticks(long? nanoseconds) => nanoseconds is { } ns ? (long)(ns * (Stopwatch.Frequency / 1e9)) : 0;

    /// <summary>Notes when a call of the layer answered (its Stopwatch timestamp), to find the slowest.</summary>
    static async Task<TensorPayload> Stamped(Task<TensorPayload> call, long[] answered, int index)
    {
        TensorPayload result = await call.ConfigureAwait(false);
        answered[index] = Stopwatch.GetTimestamp();
        return result;
    }

    /// <summary>
    /// Waits for a layer's expert calls. When the caller collects failed rows (<see cref="DispatchRows.Failures"/>) and every
    /// failed call is the expert's own fault (NaN or infinity, an integrity failure), the rows routed to those experts are
    /// recorded as failed and left without their output, so only their sequences fail; any other failure fails the step.
    /// </summary>
    static async Task<TensorPayload?[]> SettleAsync(Task<TensorPayload>[] calls, RoutingPlan plan, int[] experts, DispatchRows rows)
    {
        try
        {
            return await Task.WhenAll(calls).ConfigureAwait(false);
        }
        catch (MoeRequestException) when (rows.Failures is not null && calls.All(c => c.IsCompletedSuccessfully || IsExpertFault(c)))
        {
            var results = new TensorPayload?[calls.Length];
            for (int i = 0; i < calls.Length; i++)
            {
                if (calls[i].IsCompletedSuccessfully) results[i] = calls[i].Result;
                else rows.Failures.Fail(RowsRoutedTo(plan, experts[i]), calls[i].Exception!.InnerException!);
            }
            return results;
        }
    }

    static bool IsExpertFault(Task call) => call.IsFaulted && IsExpertFault(call.Exception!.InnerException);

    static bool IsExpertFault(Exception? e) => e is MoeRequestException { Code: MoeErrorCode.ExpertFailure or MoeErrorCode.IntegrityFailure };

    static List<int> RowsRoutedTo(RoutingPlan plan, int expert)
    {
        var routed = new List<int>();
        int k = plan.TopK;
        for (int row = 0; row < plan.TokenCount; row++)
            for (int s = 0; s < k; s++)
                if (plan.ChosenExperts[row * k + s] == expert)
                {
                    routed.Add(row);
                    break;
                }
        return routed;
    }

    /// <summary>
    /// Records the router's digest of every sampled token (every <see cref="TelemetrySamplingCache.RoutingCheckEveryNTokens"/>-th
    /// position: the configured interval, stretched by the controllers under latency pressure) and builds, per expert, the list of those tokens its rank re-checks.
    /// </summary>
    CheckedRows?[] RecordDigests(int layer, RoutingPlan plan, int[] experts, DispatchRows rows)
    {
        sampling.RefreshIfDue();
        int every = sampling.RoutingCheckEveryNTokens, k = plan.TopK;
        // A biased plan differs from the trained gate by design; re-checking it would report mismatches that are not faults.
        if (!telemetry.Enabled || rows.Count != plan.TokenCount || plan.Biased || CheckedRows.Sample(rows, every) is not { } sampled)
            return new CheckedRows?[experts.Length];
        Span<int> chosen = stackalloc int[k];
        Span<float> weights = stackalloc float[k];
        for (int row = 0; row < plan.TokenCount; row++)
        {
            if (!sampled[row]) continue;
            for (int s = 0; s < k; s++)
            {
                chosen[s] = plan.ChosenExperts[row * k + s];
                weights[s] = plan.ChosenWeights[row * k + s];
            }
            telemetry.Collector.RecordRoutingDigest(rows.Requests[row], layer, (int)rows.Positions[row], RoutingDigest.Compute(chosen, weights));
        }
        return CheckedRows.ForExperts(plan, experts, sampled, rows);
    }

    /// <summary>Splits the rows over the replicas in contiguous chunks, calls them concurrently and joins the results in row order.</summary>
    Task<TensorPayload> SpreadAsync(string[] replicas, int slot, TensorPayload payload, CheckedRows? check, CancellationToken cancellationToken)
    {
        int start = _turns.Next(slot, replicas.Length);
        int parts = ReplicaChunks.Parts(replicas.Length, payload.Rows);
        if (parts <= 1) return CallAsync(RouteOf(slot, replicas, start), payload, check, cancellationToken);
        var calls = new Task<TensorPayload>[parts];
        for (int part = 0, row = 0; part < parts; part++)
        {
            int rows = ReplicaChunks.RowsOf(payload.Rows, parts, part);
            TensorPayload chunk = payload.Slice(row, rows);
            calls[part] = CallAsync(RouteOf(slot, replicas, (start + part) % replicas.Length), chunk, check?.Slice(row, rows), cancellationToken);
            row += rows;
        }
        return JoinAsync(calls, payload);
    }

    static async Task<TensorPayload> JoinAsync(Task<TensorPayload>[] calls, TensorPayload whole)
    {
        TensorPayload[] results = await Task.WhenAll(calls).ConfigureAwait(false);
        // The chunks ran side by side: the one whose expert worked longest stands for the call's timing.
        ExpertTiming? timing = results.Select(r => r.Timing).MaxBy(t => t is null ? -1 : t.DecodeNanoseconds + t.ComputeNanoseconds + t.EncodeNanoseconds);
        return new TensorPayload(ReplicaChunks.Join(results.Select(r => r.Data).ToArray(), whole.Data.Length), whole.Rows, whole.Columns, whole.Element) { Timing = timing };
    }

    ExpertRoute RouteOf(int slot, string[]? replicas = null, int start = 0)
    {
        string defaultKey = _defaultKeys[slot];
        long now = Stopwatch.GetTimestamp();
        string? local = LocalCopies(now)[slot];
        return new ExpertRoute(defaultKey, replicas, start, local, local is not null && _detours.Avoid(defaultKey, now));
    }

    string?[] LocalCopies(long now)
    {
        long due = Volatile.Read(ref _localCopiesDue);
        if (now < due || Interlocked.CompareExchange(ref _localCopiesDue, now + Stopwatch.Frequency, due) != due) return _localCopies;
        try
        {
            int[] live = ranks.LiveRanks();
            var copies = new string?[_localKeys.Length];
            if (live.Length > 1)
            {
                int[,] owners = ExpertOwnership.Map(host.Config.LayerCount, host.Config.ExpertCount, live);
                for (int layer = 0; layer < host.Config.LayerCount; layer++)
                    for (int expert = 0; expert < host.Config.ExpertCount; expert++)
                    {
                        int slot = layer * host.Config.ExpertCount + expert;
                        copies[slot] = owners[layer, expert] == host.Rank ? null : _localKeys[slot];
                    }
            }
            _localCopies = copies;
        }
        catch (Exception e) when (e is InvalidOperationException or OrleansException)
        {
            logger.LogDebug("Could not read the live ranks ({Error}); keeping the previous copies", e.Message);
        }
        return _localCopies;
    }

    async Task<TensorPayload> CallAsync(ExpertRoute route, TensorPayload payload, CheckedRows? rows, CancellationToken cancellationToken)
    {
        RoutingCheck? check = rows is null ? null : new RoutingCheck(rows.Rows, rows.Requests, rows.Positions);
        string key = route.KeyFor(1);
        long firstAttempt = Stopwatch.GetTimestamp();
        TimeSpan backoff = TimeSpan.FromMilliseconds(100);
        // A copy that reports its own fault (NaN or infinity, a failed integrity check) is quarantined; each other copy of
        // the route (another replica, the default grain, the copy on this rank, each reading its own rank's weights) is tried
        // once before the fault fails the sequences routed to the expert.
        int otherCopies = route.Choices - 1;
        for (int attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ExpertCallTimeout);
            long started = Stopwatch.GetTimestamp();
            try
            {
                TensorPayload result = await ComputeAsync(key, route.Local, payload, check, started, timeout).ConfigureAwait(false);
                Interlocked.Increment(ref _calls);
                Interlocked.Add(ref _bytesSent, payload.Data.Length);
                Interlocked.Add(ref _bytesReceived, result.Data.Length);
                Interlocked.Add(ref _callTicks, Stopwatch.GetElapsedTime(started).Ticks);
                return result;
            }
            catch (MoeRequestException e) when (!cancellationToken.IsCancellationRequested && IsExpertFault(e) && otherCopies-- > 0)
            {
                Interlocked.Increment(ref _retries);
                telemetry.ExpertRetry();
                string next = route.KeyFor(attempt + 1);
                logger.LogWarning("Expert {Expert} copy refused the call ({Code}); trying {Next}", key, e.Code, next);
                key = next;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsRankFailure(e)
                                      && Stopwatch.GetElapsedTime(firstAttempt) + backoff < options.ExpertCallRetryWindow)
            {
                Interlocked.Increment(ref _retries);
                telemetry.ExpertRetry();
                // The default grain's rank failed: its next calls go to this rank's copy first until the cluster has moved it.
                if (key == route.Default && route.Local is not null) _detours.Failed(key, Stopwatch.GetTimestamp());
                string next = route.KeyFor(attempt + 1);
                if (next != key)
                {
                    logger.LogWarning("Expert {Expert} call failed ({Error}); retry {Attempt} on {Next}", key, e.GetType().Name, attempt, next);
                    key = next;
                    // Another replica is another rank: try it at once, and back off only once every replica has failed.
                    if (attempt % route.Choices != 0) continue;
                }
                else
                    logger.LogWarning("Expert {Expert} call failed ({Error}); retry {Attempt} in {Backoff} ms", key, e.GetType().Name, attempt, backoff.TotalMilliseconds);
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    /// <summary>
    /// One expert call to <paramref name="key"/>. A call to another rank that has not answered within the hedge delay is
    /// also sent to the copy on this rank (<paramref name="local"/>), without its routing check so nothing is counted
    /// twice; the first answer wins and the other call is cancelled (a copy's win cancels <paramref name="attempt"/>).
    /// Expert calls are pure, so both answers are the same.
    /// </summary>
    async Task<TensorPayload> ComputeAsync(string key, string? local, TensorPayload payload, RoutingCheck? check, long started, CancellationTokenSource attempt)
    {
        CancellationToken cancellationToken = attempt.Token;
        Task<TensorPayload> primary = grains.GetGrain<IExpertGrain>(key).ComputeAsync(payload, check, cancellationToken);
        TensorPayload result;
        if (_hedge is null || local is null || key == local || primary.IsCompleted)
        {
            result = await primary.ConfigureAwait(false);
            _hedge?.Record(Stopwatch.GetElapsedTime(started), Stopwatch.GetTimestamp());
            return result;
        }

        using var hedged = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task wait = Task.Delay(_hedge.DelayAt(started), hedged.Token);
        if (await Task.WhenAny(primary, wait).ConfigureAwait(false) == primary || cancellationToken.IsCancellationRequested)
        {
            await hedged.CancelAsync().ConfigureAwait(false);
            result = await primary.ConfigureAwait(false);
            _hedge.Record(Stopwatch.GetElapsedTime(started), Stopwatch.GetTimestamp());
            return result;
        }
        Interlocked.Increment(ref _hedges);
        telemetry.ExpertHedged();
        Task<TensorPayload> copy = grains.GetGrain<IExpertGrain>(local).ComputeAsync(payload, null, hedged.Token);
        Task<TensorPayload> first = await Task.WhenAny(primary, copy).ConfigureAwait(false);
        Task<TensorPayload> second = first == primary ? copy : primary;
        if (first.IsCompletedSuccessfully)
        {
            // Cancel the loser: the copy through its own token, the call it raced through the attempt's.
            if (first == primary) await hedged.CancelAsync().ConfigureAwait(false);
            else await attempt.CancelAsync().ConfigureAwait(false);
            Observe(second);
            return first.Result;
        }
        // The first to finish failed: the other may still answer; if it fails too, the first failure is the one reported.
        try
        {
            return await second.ConfigureAwait(false);
        }
        catch when (!cancellationToken.IsCancellationRequested)
        {
            return await first.ConfigureAwait(false);
        }
    }

    /// <summary>Marks a call whose answer is no longer wanted as observed, so its failure is not an unobserved task exception.</summary>
    static void Observe(Task call) => call.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Failures of the hosting rank or the transport, as opposed to errors the expert itself reported.</summary>
    static bool IsRankFailure(Exception e) => e is OrleansException or TimeoutException or OperationCanceledException;
}
