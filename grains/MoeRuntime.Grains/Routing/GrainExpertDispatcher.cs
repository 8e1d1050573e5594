using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Grains.Prefetch;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Model.Layers;
using Orleans.Runtime;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// Sends each routed expert all of its tokens in one call to its expert grain, runs the calls of a
/// layer concurrently, and adds the weighted results back. Before waiting, it hints the experts the
/// next layers' gates predict from the current hidden state (pre-gating), so they can be fetched
/// ahead. Expert calls are pure functions of their input, so a call lost with its rank is retried.
/// An expert with replicas (see <see cref="PlacementMapCache"/>) has its rows split into contiguous
/// chunks, one per replica, called concurrently and put back in order: each row's result does not depend
/// on which replica computed it, so the output is the same as with one replica. A call that loses its
/// rank moves on to the next replica, then to the expert's default grain. How far ahead to hint and how sure the gate
/// must be come from the controller's settings (<see cref="PrefetchSettingsCache"/>), read from a field each step.
/// </summary>
public sealed class GrainExpertDispatcher(IGrainFactory grains, ModelHost host, MoeSiloOptions options, RankTelemetry telemetry, PlacementMapCache placement,
    PrefetchSettingsCache prefetch, TelemetrySamplingCache sampling, ILogger<GrainExpertDispatcher> logger)
    : IExpertDispatcher
{
    long _calls, _bytesSent, _bytesReceived, _callTicks, _hints, _retries;
    /// <summary>Per expert, which replica takes the next first chunk: a one-token decode step still reaches every replica in turn.</summary>
    readonly long[] _turns = new long[host.Config.LayerCount * host.Config.ExpertCount];

    public long Calls => Interlocked.Read(ref _calls);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public TimeSpan CallTime => TimeSpan.FromTicks(Interlocked.Read(ref _callTicks));
    public long PrefetchHints => Interlocked.Read(ref _hints);
    public long Retries => Interlocked.Read(ref _retries);

    public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        placement.RefreshIfDue();
        ReplicaRoutes routes = placement.Current;
        prefetch.RefreshIfDue();
        RouterPrefetchSettings prefetching = prefetch.Current;
        int[] experts = plan.ActiveExperts().ToArray();
        using Activity? span = ServingTracing.Source.StartActivity("moe.expert_dispatch");
        span?.SetTag("moe.layer", layer);
        span?.SetTag("moe.experts", experts.Length);
        span?.SetTag("moe.tokens", plan.TokenCount);
        var payloads = new TensorPayload[experts.Length];
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < experts.Length; i++) payloads[i] = TensorPayloads.FromTensor(plan.Gather(moeInput, experts[i]));
            HintNextLayers(layer, moeInput, routes, prefetching);
        }

        RoutingCheck?[] checks = RecordDigests(layer, plan, experts, rows);
        var calls = new Task<TensorPayload>[experts.Length];
        for (int i = 0; i < experts.Length; i++)
        {
            string key = GrainKeys.Expert(host.ModelName, layer, experts[i]);
            calls[i] = routes.For(layer, experts[i]) is { } replicas
                ? SpreadAsync(replicas, key, layer * host.Config.ExpertCount + experts[i], payloads[i], checks[i], cancellationToken)
                : CallAsync(new ExpertRoute(key), payloads[i], checks[i], cancellationToken);
        }
        TensorPayload[] results = await Task.WhenAll(calls).ConfigureAwait(false);
        telemetry.Dispatched(payloads.Sum(p => (long)p.Data.Length), results.Sum(r => (long)r.Data.Length), Stopwatch.GetElapsedTime(started), plan.TokenCount);

        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < experts.Length; i++)
                plan.Accumulate(output, experts[i], TensorPayloads.ToTensor(results[i], host.Device));
        }
    }

    /// <summary>
    /// Records the router's digest of every sampled token (every <see cref="TelemetrySamplingCache.RoutingCheckEveryNTokens"/>-th
    /// position: the configured interval, stretched by the controllers under latency pressure) and builds, per expert, the list of those tokens its rank re-checks.
    /// </summary>
    RoutingCheck?[] RecordDigests(int layer, RoutingPlan plan, int[] experts, DispatchRows rows)
    {
        var checks = new RoutingCheck?[experts.Length];
        sampling.RefreshIfDue();
        int every = sampling.RoutingCheckEveryNTokens, k = plan.TopK;
        // A biased plan differs from the trained gate by design; re-checking it would report mismatches that are not faults.
        if (!telemetry.Enabled || rows.Count != plan.TokenCount || plan.Biased) return checks;
        Span<int> chosen = stackalloc int[k];
        Span<float> weights = stackalloc float[k];
        var sampled = new List<int>();
        for (int row = 0; row < plan.TokenCount; row++)
        {
            if (rows.Positions[row] % every != 0) continue;
            sampled.Add(row);
            for (int s = 0; s < k; s++)
            {
                chosen[s] = plan.ChosenExperts[row * k + s];
                weights[s] = plan.ChosenWeights[row * k + s];
            }
            telemetry.Collector.RecordRoutingDigest(rows.Requests[row], layer, (int)rows.Positions[row], RoutingDigest.Compute(chosen, weights));
        }
        if (sampled.Count == 0) return checks;
        for (int i = 0; i < experts.Length; i++)
        {
            // Row indices within the expert's payload: its tokens in plan order.
            long[] tokens;
            using (Tensor indices = plan.TokenIndices(experts[i])) tokens = indices.data<long>().ToArray();
            var rowsOfExpert = new List<int>();
            for (int j = 0; j < tokens.Length; j++)
                if (sampled.Contains((int)tokens[j])) rowsOfExpert.Add(j);
            if (rowsOfExpert.Count == 0) continue;
            checks[i] = new RoutingCheck(rowsOfExpert.ToArray(),
                rowsOfExpert.Select(j => rows.Requests[(int)tokens[j]]).ToArray(),
                rowsOfExpert.Select(j => rows.Positions[(int)tokens[j]]).ToArray());
        }
        return checks;
    }

    /// <summary>Splits the rows over the replicas in contiguous chunks, calls them concurrently and joins the results in row order.</summary>
    Task<TensorPayload> SpreadAsync(string[] replicas, string defaultKey, int slot, TensorPayload payload, RoutingCheck? check, CancellationToken cancellationToken)
    {
        int start = (int)((ulong)Interlocked.Increment(ref _turns[slot]) % (ulong)replicas.Length);
        int parts = Math.Min(replicas.Length, payload.Rows);
        if (parts <= 1) return CallAsync(new ExpertRoute(defaultKey, replicas, start), payload, check, cancellationToken);
        int rowBytes = payload.Columns * sizeof(float);
        var calls = new Task<TensorPayload>[parts];
        for (int part = 0, row = 0; part < parts; part++)
        {
            int rows = payload.Rows / parts + (part < payload.Rows % parts ? 1 : 0);
            var chunk = new TensorPayload(payload.Data.AsSpan(row * rowBytes, rows * rowBytes).ToArray(), rows, payload.Columns);
            calls[part] = CallAsync(new ExpertRoute(defaultKey, replicas, (start + part) % replicas.Length), chunk, Slice(check, row, rows), cancellationToken);
            row += rows;
        }
        return JoinAsync(calls, payload);
    }

    static async Task<TensorPayload> JoinAsync(Task<TensorPayload>[] calls, TensorPayload whole)
    {
        TensorPayload[] results = await Task.WhenAll(calls).ConfigureAwait(false);
        var data = new byte[whole.Data.Length];
        int offset = 0;
        foreach (TensorPayload result in results)
        {
            result.Data.CopyTo(data, offset);
            offset += result.Data.Length;
        }
        return new TensorPayload(data, whole.Rows, whole.Columns);
    }

    /// <summary>The re-checked rows that fall in one chunk, renumbered from the chunk's first row.</summary>
    static RoutingCheck? Slice(RoutingCheck? check, int first, int count)
    {
        if (check is null) return null;
        int[] picked = Enumerable.Range(0, check.Rows.Length).Where(i => check.Rows[i] >= first && check.Rows[i] < first + count).ToArray();
        return picked.Length == 0
            ? null
            : new RoutingCheck(picked.Select(i => check.Rows[i] - first).ToArray(), picked.Select(i => check.Requests[i]).ToArray(), picked.Select(i => check.Positions[i]).ToArray());
    }

    async Task<TensorPayload> CallAsync(ExpertRoute route, TensorPayload payload, RoutingCheck? check, CancellationToken cancellationToken)
    {
        string key = route.KeyFor(1);
        IExpertGrain expert = grains.GetGrain<IExpertGrain>(key);
        long firstAttempt = Stopwatch.GetTimestamp();
        TimeSpan backoff = TimeSpan.FromMilliseconds(100);
        for (int attempt = 1; ; attempt++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ExpertCallTimeout);
            long started = Stopwatch.GetTimestamp();
            try
            {
                TensorPayload result = await expert.ComputeAsync(payload, check, timeout.Token).ConfigureAwait(false);
                Interlocked.Increment(ref _calls);
                Interlocked.Add(ref _bytesSent, payload.Data.Length);
                Interlocked.Add(ref _bytesReceived, result.Data.Length);
                Interlocked.Add(ref _callTicks, Stopwatch.GetElapsedTime(started).Ticks);
                return result;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested && IsRankFailure(e)
                                      && Stopwatch.GetElapsedTime(firstAttempt) + backoff < options.ExpertCallRetryWindow)
            {
                Interlocked.Increment(ref _retries);
                telemetry.ExpertRetry();
                string next = route.KeyFor(attempt + 1);
                if (next != key)
                {
                    logger.LogWarning("Expert {Expert} call failed ({Error}); retry {Attempt} on {Next}", key, e.GetType().Name, attempt, next);
                    key = next;
                    expert = grains.GetGrain<IExpertGrain>(key);
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

    /// <summary>Failures of the hosting rank or the transport, as opposed to errors the expert itself reported.</summary>
    static bool IsRankFailure(Exception e) => e is OrleansException or TimeoutException or OperationCanceledException;

    /// <summary>
    /// Hints the experts layers <c>layer+1..layer+Lookahead</c> will likely need: each predicted top-k expert whose gate
    /// weight for some token reaches that layer's threshold (all of them at threshold 0).
    /// </summary>
    void HintNextLayers(int layer, Tensor moeInput, ReplicaRoutes routes, RouterPrefetchSettings settings)
    {
        int last = Math.Min(host.Config.LayerCount - 1, layer + settings.Lookahead);
        for (int next = layer + 1; next <= last; next++)
        {
            var (predicted, weights) = host.DenseModel.Layers[next].Moe.Gate.Route(moeInput);
            float threshold = settings.Thresholds[next];
            if (threshold > 0)
            {
                // An explicit Scalar: TorchSharp leaves implicit ones to the finalizer thread.
                using TorchSharp.Scalar least = threshold;
                predicted = predicted.masked_select(weights.ge(least));
            }
            foreach (long expert in predicted.unique().output.data<long>().ToArray())
            {
                if (routes.For(next, (int)expert) is { } replicas)
                    foreach (string replica in replicas)
                    {
                        Interlocked.Increment(ref _hints);
                        grains.GetGrain<IExpertGrain>(replica).PrefetchAsync().Ignore();
                    }
                else
                {
                    Interlocked.Increment(ref _hints);
                    grains.GetGrain<IExpertGrain>(GrainKeys.Expert(host.ModelName, next, (int)expert)).PrefetchAsync().Ignore();
                }
            }
        }
    }
}
