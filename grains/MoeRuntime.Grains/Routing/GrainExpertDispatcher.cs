using System.Buffers;
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
using MoeRuntime.Serving.Tiers;
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
    TelemetrySamplingCache sampling, RankDirectory ranks, ExpertExecutor executor, ILogger<GrainExpertDispatcher> logger)
    : IExpertDispatcher
{
    /// <summary>Stands in a layer's results for an expert computed in-process, whose output is a tensor, not a payload.</summary>
    static readonly TensorPayload InProcess = new([], 0, 0);
    static readonly Task<TensorPayload> InProcessDone = Task.FromResult(InProcess);

    long _calls, _bytesSent, _bytesReceived, _callTicks, _retries, _hedges;
    readonly ReplicaTurns _turns = new(host.Config.LayerCount * host.Config.ExpertCount);
    // Grain keys per expert slot (layer * experts + expert), built once: the per-layer path formats no strings.
    readonly string[] _defaultKeys = Keys(host, rank: null);
    readonly string[] _localKeys = Keys(host, host.Rank);
    readonly ExpertKey[] _experts = ExpertKeys(host);
    readonly HedgeDelay? _hedge = options.ExpertCallHedgeAfter > TimeSpan.Zero
        ? new HedgeDelay(options.ExpertCallHedgeAfter, options.ExpertCallTimeout)
        : null;
    readonly ExpertDetours _detours = new(options.ExpertDetourPeriod);
    // Per slot, the copy on this rank when the expert's default grain lives on another live rank (null otherwise: one
    // rank alone, or this rank the owner, has nothing to hedge to); re-read from membership once a second.
    volatile string?[] _localCopies = new string?[host.Config.LayerCount * host.Config.ExpertCount];
    // Per slot, whether the expert's default grain belongs on this rank (its owner among the live ranks, the rule placement
    // uses): such an expert is computed by this rank's executor, in-process. Re-read with the local copies.
    volatile bool[] _ownedHere = new bool[host.Config.LayerCount * host.Config.ExpertCount];
    // Per slot, the rank that owns the expert among the live ranks (-1 before any rank is known), for calls per rank.
    volatile int[] _owners = new int[host.Config.LayerCount * host.Config.ExpertCount];
    volatile int _liveRanks;
    readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> _rankKeys = new();
    long _localCopiesDue;

    public long Calls => Interlocked.Read(ref _calls);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public TimeSpan CallTime => TimeSpan.FromTicks(Interlocked.Read(ref _callTicks));
    public long Retries => Interlocked.Read(ref _retries);
    /// <summary>Expert calls also sent to the copy on this rank because they had not answered within the hedge delay.</summary>
    public long Hedges => Interlocked.Read(ref _hedges);

    static ExpertKey[] ExpertKeys(ModelHost host)
    {
        var keys = new ExpertKey[host.Config.LayerCount * host.Config.ExpertCount];
        for (int layer = 0; layer < host.Config.LayerCount; layer++)
            for (int expert = 0; expert < host.Config.ExpertCount; expert++)
                keys[layer * host.Config.ExpertCount + expert] = new ExpertKey(host.ModelName, layer, expert);
        return keys;
    }

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
        // The layer's arrays come from the shared pools (a router may run steps side by side, so nothing per dispatcher):
        // the active experts, where each goes, its payload, its call and when it answered. Each holds the layer's n
        // experts in its first n entries. They go back only once every call has settled (a call still running would
        // write its answer time into an array another layer had taken), so a layer that fails before then leaves them
        // to the garbage collector.
        int[] experts = ArrayPool<int>.Shared.Rent(plan.ExpertCount);
        int n = 0;
        for (int e = 0; e < plan.ExpertCount; e++)
            if (plan.TokenCountFor(e) > 0) experts[n++] = e;
        placement.Demand.Count(layer, plan, experts.AsSpan(0, n));
        using Activity? span = ServingTracing.Source.StartActivity("moe.expert_dispatch");
        span?.SetTag("moe.layer", layer);
        span?.SetTag("moe.experts", n);
        span?.SetTag("moe.tokens", plan.TokenCount);
        long now = Stopwatch.GetTimestamp();
        bool[] ownedHere = OwnedHere(now);
        int[] owners = _owners;
        bool perRank = options.ExpertCallsPerRank && _liveRanks > 1;
        // Where each expert's rows go: experts without replicas whose default grain belongs on this rank run in-process
        // (their rows stay tensors); with calls per rank, those owned by another rank go with that rank's other experts
        // in one call (unless the expert is detoured after its rank failed); the others are sent one call each, their rows
        // copied into payloads.
        int[] destinations = ArrayPool<int>.Shared.Rent(n);
        TensorPayload?[] payloads = ArrayPool<TensorPayload?>.Shared.Rent(n);
        int inProcess = 0, rankBound = 0;
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < n; i++)
            {
                int slot = layer * host.Config.ExpertCount + experts[i];
                bool replicated = routes.For(layer, experts[i]) is not null;
                destinations[i] = replicated ? (routes.ComputedHere(layer, experts[i]) ? Here : Sent)
                    : ownedHere[slot] ? Here
                    : perRank && owners[slot] >= 0 && !_detours.Avoid(_defaultKeys[slot], now) ? owners[slot]
                    : Sent;
                payloads[i] = null;
                if (destinations[i] == Here) inProcess++;
                else if (destinations[i] >= 0) rankBound++;
                else payloads[i] = TensorPayloads.FromTensor(plan.Gather(moeInput, experts[i]), options.WireFormat);
            }
        }

        CheckedRows?[]? checks = RecordDigests(layer, plan, experts, n, rows);
        Task<TensorPayload>[] calls = ArrayPool<Task<TensorPayload>>.Shared.Rent(n);
        long[] answered = ArrayPool<long>.Shared.Rent(n);
        Array.Clear(answered, 0, n);
        bool settledAll = false;
        long sent = Stopwatch.GetTimestamp();
        long rankBytes = 0;
        Tensor?[]? local = null;
        try
        {
            for (int i = 0; i < n; i++)
            {
                if (destinations[i] >= 0 && Array.IndexOf(destinations, destinations[i], 0, i) < 0)
                    rankBytes += CallRank(layer, destinations[i], i, n, plan, moeInput, experts, destinations, checks, calls, answered, cancellationToken);
                if (payloads[i] is not { } payload) continue;
                int slot = layer * host.Config.ExpertCount + experts[i];
                calls[i] = Stamped(routes.For(layer, experts[i]) is { } replicas
                    ? SpreadAsync(replicas, slot, payload, checks?[i], cancellationToken)
                    : CallAsync(slot, RouteOf(slot), payload, checks?[i], cancellationToken), answered, i);
            }
            // While the other ranks work, this rank computes its own experts, one after another, as the batched reference does.
            local = inProcess > 0 ? ArrayPool<Tensor?>.Shared.Rent(n) : null;
            LocalTiming slowestLocal = default;
            if (local is not null)
                for (int i = 0; i < n; i++)
                {
                    if (destinations[i] != Here) continue;
                    int slot = layer * host.Config.ExpertCount + experts[i];
                    (calls[i], long entered, long ticks) = await InProcessAsync(slot, routes.For(layer, experts[i]) is not null, plan, moeInput, experts[i], checks?[i], local, i, cancellationToken)
                        .ConfigureAwait(false);
                    if (local[i] is not null)
                    {
                        answered[i] = Stopwatch.GetTimestamp();
                        slowestLocal = slowestLocal.Later(answered[i], entered, ticks);
                    }
                    else calls[i] = Stamped(calls[i], answered, i);
                }
            TensorPayload?[] results;
            try
            {
                results = await SettleAsync(calls, n, plan, experts, rows).ConfigureAwait(false);
            }
            finally
            {
                // Succeeded or failed, every call has finished: none writes into the layer's arrays any more.
                settledAll = true;
            }
            long settled = Stopwatch.GetTimestamp();
            long bytesSent = rankBytes, bytesReceived = 0;
            for (int i = 0; i < n; i++)
            {
                bytesSent += payloads[i]?.Data.Length ?? 0;
                bytesReceived += results[i]?.Data.Length ?? 0;
            }
            telemetry.Dispatched(bytesSent, bytesReceived, Stopwatch.GetElapsedTime(started), plan.TokenCount);

            using (var scope = NewDisposeScope())
            {
                for (int i = 0; i < n; i++)
                {
                    if (local?[i] is { } computed) plan.Accumulate(output, experts[i], computed);
                    else if (results[i] is { } result && !ReferenceEquals(result, InProcess))
                        plan.Accumulate(output, experts[i], TensorPayloads.ToTensor(result, host.Device));
                }
            }
            telemetry.DispatchTimed(layer, Timestamps(started, sent, answered, results, slowestLocal, settled, Stopwatch.GetTimestamp()));
        }
        finally
        {
            ArrayPool<int>.Shared.Return(destinations);
            if (local is not null)
            {
                for (int i = 0; i < n; i++) local[i]?.Dispose();
                ArrayPool<Tensor?>.Shared.Return(local, clearArray: true);
            }
            if (settledAll)
            {
                ArrayPool<int>.Shared.Return(experts);
                Array.Clear(payloads, 0, n);
                ArrayPool<TensorPayload?>.Shared.Return(payloads);
                Array.Clear(calls, 0, n);
                ArrayPool<Task<TensorPayload>>.Shared.Return(calls);
                ArrayPool<long>.Shared.Return(answered);
            }
        }
    }

    /// <summary>A layer's destination of an expert computed in-process by this rank's executor.</summary>
    const int Here = -2;
    /// <summary>A layer's destination of an expert sent in a call of its own (or one per replica).</summary>
    const int Sent = -1;

    /// <summary>
    /// Sends <paramref name="rank"/> the rows of every expert of the layer bound for it (from index <paramref name="first"/>
    /// on) in one call, and sets each such expert's answer in <paramref name="calls"/>. Returns the bytes sent.
    /// </summary>
    long CallRank(int layer, int rank, int first, int n, RoutingPlan plan, Tensor moeInput, int[] experts, int[] destinations, CheckedRows?[]? checks,
        Task<TensorPayload>[] calls, long[] answered, CancellationToken cancellationToken)
    {
        int count = 0;
        bool checkedAny = false;
        for (int i = first; i < n; i++)
            if (destinations[i] == rank)
            {
                count++;
                checkedAny |= checks?[i] is not null;
            }
        Span<int> members = stackalloc int[count];
        var ids = new int[count];
        var rowCounts = new int[count];
        RoutingCheck?[]? rankChecks = checkedAny ? new RoutingCheck?[count] : null;
        TensorPayload payload;
        using (var scope = NewDisposeScope())
        {
            var parts = new Tensor[count];
            for (int i = first, k = 0; i < n; i++)
            {
                if (destinations[i] != rank) continue;
                members[k] = i;
                ids[k] = experts[i];
                rowCounts[k] = plan.TokenCountFor(experts[i]);
                if (checks?[i] is { } c && rankChecks is not null) rankChecks[k] = new RoutingCheck(c.Rows, c.Requests, c.Positions);
                parts[k++] = plan.Gather(moeInput, experts[i]);
            }
            payload = TensorPayloads.FromTensor(count == 1 ? parts[0] : cat(parts, 0), options.WireFormat);
        }
        var call = new RankExpertsCall(layer, ids, rowCounts, payload, rankChecks);
        Task<RankExpertsAnswer> answer = RankCallAsync(rank, call, cancellationToken);
        for (int k = 0, row = 0; k < count; row += rowCounts[k], k++)
        {
            int i = members[k];
            calls[i] = Stamped(FromRankAsync(answer, call, k, row, layer * host.Config.ExpertCount + experts[i], checks?[i], cancellationToken), answered, i);
        }
        return payload.Data.Length;
    }

    /// <summary>
    /// One rank call: the rank's experts grain, hedged to this rank's executor (the local copies) when it has not answered
    /// within the hedge delay; the first answer wins, the other is cancelled.
    /// </summary>
    async Task<RankExpertsAnswer> RankCallAsync(int rank, RankExpertsCall call, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(options.ExpertCallTimeout);
        long started = Stopwatch.GetTimestamp();
        string key = _rankKeys.GetOrAdd(rank, static (r, model) => GrainKeys.Rank(model, r), host.ModelName);
        Task<RankExpertsAnswer> primary = grains.GetGrain<IRankExpertsGrain>(key).ComputeAsync(call, attempt.Token);
        // The local copies, without the routing checks so nothing is counted twice.
        RankExpertsAnswer result = await RaceAsync(primary, hedgeable: true, started, attempt, cancellationToken,
            static (state, token) => state.Executor.ComputeManyAsync(state.Call with { Checks = null }, replica: true, token), (Executor: executor, Call: call))
            .ConfigureAwait(false);
        return Counted(call, result, started);
    }

    RankExpertsAnswer Counted(RankExpertsCall call, RankExpertsAnswer answer, long started)
    {
        Interlocked.Add(ref _calls, call.Experts.Length);
        Interlocked.Add(ref _bytesSent, call.Rows.Data.Length);
        Interlocked.Add(ref _bytesReceived, answer.Rows.Data.Length);
        Interlocked.Add(ref _callTicks, Stopwatch.GetElapsedTime(started).Ticks);
        return answer;
    }

    /// <summary>
    /// One expert's answer out of its rank call: its rows of the answer; on its own fault there, its other copies by its
    /// route (or the fault, with none); when the whole call failed with its rank, its rows by its own route, as a call of
    /// its own would have been retried.
    /// </summary>
    async Task<TensorPayload> FromRankAsync(Task<RankExpertsAnswer> call, RankExpertsCall request, int index, int row, int slot, CheckedRows? rows,
        CancellationToken cancellationToken)
    {
        RankExpertsAnswer answer;
        try
        {
            answer = await call.ConfigureAwait(false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsRankFailure(e))
        {
            Interlocked.Increment(ref _retries);
            telemetry.ExpertRetry();
            logger.LogWarning("Expert {Expert} rank call failed ({Error}); calling it on its own", _defaultKeys[slot], e.GetType().Name);
            return await CallAsync(slot, RouteOf(slot), Slice(request.Rows, row, request.RowCounts[index]), rows, cancellationToken).ConfigureAwait(false);
        }
        if (answer.Faults?[index] is { } fault)
        {
            ExpertRoute route = RouteOf(slot);
            if (route.Choices <= 1) throw new MoeRequestException(fault.Code, fault.Message);
            Interlocked.Increment(ref _retries);
            telemetry.ExpertRetry();
            logger.LogWarning("Expert {Expert} copy refused the call ({Code}); trying {Next}", _defaultKeys[slot], fault.Code, route.KeyFor(2));
            return await CallAsync(slot, route, Slice(request.Rows, row, request.RowCounts[index]), rows, cancellationToken, firstAttempt: 2).ConfigureAwait(false);
        }
        return Slice(answer.Rows, row, request.RowCounts[index]) with { Timing = answer.Rows.Timing };
    }

    static TensorPayload Slice(TensorPayload whole, int row, int rows) => whole.Slice(row, rows);

    /// <summary>The slowest in-process expert of a layer: when it answered, began, and how long it computed (Stopwatch).</summary>
    readonly record struct LocalTiming(long Answered, long Entered, long ComputeTicks)
    {
        public LocalTiming Later(long answered, long entered, long ticks) => answered > Answered ? new(answered, entered, ticks) : this;
    }

    /// <summary>
    /// Computes one expert with this rank's executor, its output left in <paramref name="local"/>[<paramref name="index"/>]
    /// (the answer is then <see cref="InProcess"/>, with when the call began and how long it took, in Stopwatch ticks).
    /// When this rank's copy refuses (quarantined), the rows go to the expert's other copies by the usual route and the
    /// answer is that call; with no other copy, or any other failure, the failure is the answer, for the layer to settle.
    /// </summary>
    async Task<(Task<TensorPayload> Answer, long Entered, long Ticks)> InProcessAsync(int slot, bool replica, RoutingPlan plan, Tensor moeInput, int expert, CheckedRows? rows, Tensor?[] local, int index,
        CancellationToken cancellationToken)
    {
        Tensor input;
        using (var scope = NewDisposeScope())
        {
            input = plan.Gather(moeInput, expert);
            input.DetachFromDisposeScope();
        }
        using (input)
        {
            RoutingCheck? check = rows is null ? null : new RoutingCheck(rows.Rows, rows.Requests, rows.Positions);
            try
            {
                (Tensor result, long entered, long ticks) = await executor.ComputeAsync(_experts[slot], replica, input, check, cancellationToken).ConfigureAwait(false);
                local[index] = result;
                Interlocked.Increment(ref _calls);
                Interlocked.Add(ref _callTicks, Stopwatch.GetElapsedTime(entered).Ticks);
                return (InProcessDone, entered, ticks);
            }
            catch (MoeRequestException e) when (!cancellationToken.IsCancellationRequested && IsExpertFault(e) && RouteOf(slot) is { Choices: > 1 } route)
            {
                Interlocked.Increment(ref _retries);
                telemetry.ExpertRetry();
                logger.LogWarning("Expert {Expert} copy on this rank refused the call ({Code}); trying {Next}", _defaultKeys[slot], e.Code, route.KeyFor(2));
                return (CallAsync(slot, route, TensorPayloads.FromTensor(input, options.WireFormat), rows, cancellationToken, firstAttempt: 2), 0, 0);
            }
            catch (Exception e)
            {
                return (Task.FromException<TensorPayload>(e), 0, 0);
            }
        }
    }

    /// <summary>The layer's dispatch timestamps, with the call that answered last as the slowest.</summary>
    static DispatchTimestamps Timestamps(long started, long sent, long[] answered, TensorPayload?[] results, LocalTiming local, long settled, long combined)
    {
        int slowest = -1;
        for (int i = 0; i < results.Length; i++)
            if (results[i] is { } result && !ReferenceEquals(result, InProcess) && (slowest < 0 || answered[i] > answered[slowest])) slowest = i;
        // An in-process expert that answered after every sent call stands for the layer: no decode, no encode.
        if (local.Answered != 0 && (slowest < 0 || local.Answered > answered[slowest]))
            return new DispatchTimestamps(started, sent, local.Answered, local.Entered, 0, local.ComputeTicks, 0, settled, combined);
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
    static async Task<TensorPayload?[]> SettleAsync(Task<TensorPayload>[] calls, int n, RoutingPlan plan, int[] experts, DispatchRows rows)
    {
        try
        {
            return await Task.WhenAll(new ReadOnlySpan<Task<TensorPayload>>(calls, 0, n)).ConfigureAwait(false);
        }
        catch (MoeRequestException) when (rows.Failures is not null && calls.Take(n).All(c => c.IsCompletedSuccessfully || IsExpertFault(c)))
        {
            var results = new TensorPayload?[n];
            for (int i = 0; i < n; i++)
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
    /// position: the configured interval, stretched by the controllers under latency pressure) and builds, per expert of the
    /// first <paramref name="n"/> of <paramref name="experts"/>, the list of those tokens its rank re-checks (null when no token is sampled).
    /// </summary>
    CheckedRows?[]? RecordDigests(int layer, RoutingPlan plan, int[] experts, int n, DispatchRows rows)
    {
        sampling.RefreshIfDue();
        int every = sampling.RoutingCheckEveryNTokens, k = plan.TopK;
        // A biased plan differs from the trained gate by design; re-checking it would report mismatches that are not faults.
        if (!telemetry.Enabled || rows.Count != plan.TokenCount || plan.Biased || CheckedRows.Sample(rows, every) is not { } sampled)
            return null;
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
        return CheckedRows.ForExperts(plan, new ArraySegment<int>(experts, 0, n), sampled, rows);
    }

    /// <summary>Splits the rows over the replicas in contiguous chunks, calls them concurrently and joins the results in row order.</summary>
    Task<TensorPayload> SpreadAsync(string[] replicas, int slot, TensorPayload payload, CheckedRows? check, CancellationToken cancellationToken)
    {
        int start = _turns.Next(slot, replicas.Length);
        int parts = ReplicaChunks.Parts(replicas.Length, payload.Rows);
        if (parts <= 1) return CallAsync(slot, RouteOf(slot, replicas, start), payload, check, cancellationToken);
        var calls = new Task<TensorPayload>[parts];
        for (int part = 0, row = 0; part < parts; part++)
        {
            int rows = ReplicaChunks.RowsOf(payload.Rows, parts, part);
            TensorPayload chunk = payload.Slice(row, rows);
            calls[part] = CallAsync(slot, RouteOf(slot, replicas, (start + part) % replicas.Length), chunk, check?.Slice(row, rows), cancellationToken);
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
        RefreshOwnership(now);
        return _localCopies;
    }

    /// <summary>
    /// Whether the expert is computed by this rank's executor in-process (no replicas, its default grain owned here): what
    /// the prefetcher asks so it can hint such an expert without a message.
    /// </summary>
    internal bool ComputesHere(int layer, int expert) =>
        placement.Current.For(layer, expert) is null && OwnedHere(Stopwatch.GetTimestamp())[layer * host.Config.ExpertCount + expert];

    bool[] OwnedHere(long now)
    {
        RefreshOwnership(now);
        return _ownedHere;
    }

    /// <summary>Re-reads, at most once a second, which experts this rank owns and which have a copy here to fall back on.</summary>
    void RefreshOwnership(long now)
    {
        long due = Volatile.Read(ref _localCopiesDue);
        if (now < due || Interlocked.CompareExchange(ref _localCopiesDue, now + Stopwatch.Frequency, due) != due) return;
        try
        {
            int[] live = ranks.LiveRanks();
            var copies = new string?[_localKeys.Length];
            var owned = new bool[_localKeys.Length];
            var ownerOf = new int[_localKeys.Length];
            Array.Fill(ownerOf, -1);
            if (live.Length > 0)
            {
                int[,] owners = ExpertOwnership.Map(host.Config.LayerCount, host.Config.ExpertCount, live);
                for (int layer = 0; layer < host.Config.LayerCount; layer++)
                    for (int expert = 0; expert < host.Config.ExpertCount; expert++)
                    {
                        int slot = layer * host.Config.ExpertCount + expert;
                        ownerOf[slot] = owners[layer, expert];
                        owned[slot] = owners[layer, expert] == host.Rank;
                        copies[slot] = owned[slot] || live.Length == 1 ? null : _localKeys[slot];
                    }
            }
            _localCopies = copies;
            _ownedHere = owned;
            _owners = ownerOf;
            _liveRanks = live.Length;
        }
        catch (Exception e) when (e is InvalidOperationException or OrleansException)
        {
            logger.LogDebug("Could not read the live ranks ({Error}); keeping the previous copies", e.Message);
        }
    }

    async Task<TensorPayload> CallAsync(int slot, ExpertRoute route, TensorPayload payload, CheckedRows? rows, CancellationToken cancellationToken, int firstAttempt = 1)
    {
        RoutingCheck? check = rows is null ? null : new RoutingCheck(rows.Rows, rows.Requests, rows.Positions);
        string key = route.KeyFor(firstAttempt);
        long firstCall = Stopwatch.GetTimestamp();
        TimeSpan backoff = TimeSpan.FromMilliseconds(100);
        // A copy that reports its own fault (NaN or infinity, a failed integrity check) is quarantined; each other copy of
        // the route (another replica, the default grain, the copy on this rank, each reading its own rank's weights) is tried
        // once before the fault fails the sequences routed to the expert.
        int otherCopies = route.Choices - firstAttempt;
        for (int attempt = firstAttempt; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ExpertCallTimeout);
            long started = Stopwatch.GetTimestamp();
            try
            {
                TensorPayload result = await ComputeAsync(slot, key, route.Local, payload, check, started, timeout).ConfigureAwait(false);
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
                                      && Stopwatch.GetElapsedTime(firstCall) + backoff < options.ExpertCallRetryWindow)
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
    Task<TensorPayload> ComputeAsync(int slot, string key, string? local, TensorPayload payload, RoutingCheck? check, long started, CancellationTokenSource attempt) =>
        // The copy without its routing check, so nothing is counted twice.
        RaceAsync(Invoke(slot, key, payload, check, attempt.Token), hedgeable: local is not null && key != local, started, attempt, attempt.Token,
            static (state, token) => state.Dispatcher.Invoke(state.Slot, state.Local!, state.Payload, null, token), (Dispatcher: this, Slot: slot, Local: local, Payload: payload));

    /// <summary>
    /// The hedge race of one call. <paramref name="primary"/> alone when hedging is off, the call cannot be hedged or it
    /// answers within the hedge delay (its time then feeds the delay); otherwise <paramref name="copy"/> is started too,
    /// with a token of its own under <paramref name="cancellationToken"/>, and the first answer wins: the loser is cancelled
    /// (the copy through its token, the primary through <paramref name="attempt"/>) and its failure observed. When the first
    /// to finish failed, the other's answer is taken; when both fail, the first failure is the one reported. The copy's
    /// arguments come in <paramref name="state"/>, so a call that is not hedged allocates no closure.
    /// </summary>
    async Task<T> RaceAsync<T, TState>(Task<T> primary, bool hedgeable, long started, CancellationTokenSource attempt, CancellationToken cancellationToken,
        Func<TState, CancellationToken, Task<T>> copy, TState state)
    {
        T result;
        if (_hedge is null || !hedgeable || primary.IsCompleted)
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
        Task<T> other = copy(state, hedged.Token);
        Task<T> first = await Task.WhenAny(primary, other).ConfigureAwait(false);
        Task<T> second = first == primary ? other : primary;
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

    /// <summary>
    /// One copy's answer: a copy on this rank (this rank's pinned replica, or the default grain when this rank owns the
    /// expert) from the executor in-process, any other through its grain.
    /// </summary>
    Task<TensorPayload> Invoke(int slot, string key, TensorPayload payload, RoutingCheck? check, CancellationToken cancellationToken)
    {
        if (key == _localKeys[slot])
            return executor.ComputeAsync(_experts[slot], replica: true, payload, check, cancellationToken);
        if (key == _defaultKeys[slot] && _ownedHere[slot])
            return executor.ComputeAsync(_experts[slot], replica: false, payload, check, cancellationToken);
        return grains.GetGrain<IExpertGrain>(key).ComputeAsync(payload, check, cancellationToken);
    }

    /// <summary>Marks a call whose answer is no longer wanted as observed, so its failure is not an unobserved task exception.</summary>
    static void Observe(Task call) => call.ContinueWith(static t => _ = t.Exception, CancellationToken.None,
        TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>Failures of the hosting rank or the transport, as opposed to errors the expert itself reported.</summary>
    static bool IsRankFailure(Exception e) => e is OrleansException or TimeoutException or OperationCanceledException;
}
