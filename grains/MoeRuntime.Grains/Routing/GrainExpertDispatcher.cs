using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
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
/// </summary>
public sealed class GrainExpertDispatcher(IGrainFactory grains, ModelHost host, MoeSiloOptions options, RankTelemetry telemetry, ILogger<GrainExpertDispatcher> logger)
    : IExpertDispatcher
{
    long _calls, _bytesSent, _bytesReceived, _callTicks, _hints, _retries;

    public long Calls => Interlocked.Read(ref _calls);
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);
    public TimeSpan CallTime => TimeSpan.FromTicks(Interlocked.Read(ref _callTicks));
    public long PrefetchHints => Interlocked.Read(ref _hints);
    public long Retries => Interlocked.Read(ref _retries);

    public async Task DispatchAsync(int layer, RoutingPlan plan, Tensor moeInput, Tensor output, DispatchRows rows, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        int[] experts = plan.ActiveExperts().ToArray();
        using Activity? span = ServingTracing.Source.StartActivity("moe.expert_dispatch");
        span?.SetTag("moe.layer", layer);
        span?.SetTag("moe.experts", experts.Length);
        span?.SetTag("moe.tokens", plan.TokenCount);
        var payloads = new TensorPayload[experts.Length];
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < experts.Length; i++) payloads[i] = TensorPayloads.FromTensor(plan.Gather(moeInput, experts[i]));
            HintNextLayers(layer, moeInput);
        }

        RoutingCheck?[] checks = RecordDigests(layer, plan, experts, rows);
        var calls = new Task<TensorPayload>[experts.Length];
        for (int i = 0; i < experts.Length; i++)
            calls[i] = CallAsync(ExpertKeys.Of(host.ModelName, layer, experts[i]), payloads[i], checks[i], cancellationToken);
        TensorPayload[] results = await Task.WhenAll(calls).ConfigureAwait(false);
        telemetry.Dispatched(payloads.Sum(p => (long)p.Data.Length), results.Sum(r => (long)r.Data.Length), Stopwatch.GetElapsedTime(started), plan.TokenCount);

        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < experts.Length; i++)
                plan.Accumulate(output, experts[i], TensorPayloads.ToTensor(results[i], host.Device));
        }
    }

    /// <summary>
    /// Records the router's digest of every sampled token (every <see cref="MoeSiloOptions.RoutingCheckEveryNTokens"/>-th
    /// position) and builds, per expert, the list of those tokens its rank re-checks.
    /// </summary>
    RoutingCheck?[] RecordDigests(int layer, RoutingPlan plan, int[] experts, DispatchRows rows)
    {
        var checks = new RoutingCheck?[experts.Length];
        int every = Math.Max(1, options.RoutingCheckEveryNTokens), k = plan.TopK;
        if (!telemetry.Enabled || rows.Count != plan.TokenCount) return checks;
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
            long[] tokens = plan.TokenIndices(experts[i]).data<long>().ToArray();
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

    async Task<TensorPayload> CallAsync(string key, TensorPayload payload, RoutingCheck? check, CancellationToken cancellationToken)
    {
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
                logger.LogWarning("Expert {Expert} call failed ({Error}); retry {Attempt} in {Backoff} ms", key, e.GetType().Name, attempt, backoff.TotalMilliseconds);
                await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    /// <summary>Failures of the hosting rank or the transport, as opposed to errors the expert itself reported.</summary>
    static bool IsRankFailure(Exception e) => e is OrleansException or TimeoutException or OperationCanceledException;

    void HintNextLayers(int layer, Tensor moeInput)
    {
        int last = Math.Min(host.Config.LayerCount - 1, layer + options.PrefetchLookahead);
        for (int next = layer + 1; next <= last; next++)
        {
            var (predicted, _) = host.DenseModel.Layers[next].Moe.Gate.Route(moeInput);
            foreach (long expert in predicted.unique().output.data<long>().ToArray())
            {
                Interlocked.Increment(ref _hints);
                grains.GetGrain<IExpertGrain>(ExpertKeys.Of(host.ModelName, next, (int)expert)).PrefetchAsync().Ignore();
            }
        }
    }
}
