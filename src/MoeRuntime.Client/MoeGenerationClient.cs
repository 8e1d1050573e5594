using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using MoeRuntime.Grains;
using Orleans.Runtime;

namespace MoeRuntime.Client;

/// <summary>
/// Streams a generation and survives the loss of the rank serving it: the stream asks its router for heartbeats, takes
/// a rank that stops answering (or fails the stream because it is gone or stopping) for lost, and resumes the request
/// on the cluster with the prompt plus the tokens already delivered. The router is a stateless worker local to the
/// gateway the call goes through, and the Orleans client sends the resumed call through a gateway that is still alive,
/// so the request continues on another rank at the position where it stopped: no token repeated, none lost, the same
/// tokens as an uninterrupted run for greedy and for seeded sampling.
/// </summary>
public static class MoeGenerationClient
{
    /// <summary>
    /// The request's tokens from the router grain of <paramref name="model"/>, resumed on another rank when the rank
    /// serving it is lost or stopping (see <see cref="ResumeOptions"/>). The request keeps its id (one is made when it
    /// has none) and, when it samples without a seed, gets one here so that a resume samples the same tokens.
    /// Heartbeats are not yielded; a trailer (<see cref="TokenChunk.IsTrailer"/>, a request with stop strings) is. Failures that are the request's own (bad input, deadline, admission) are not resumed.
    /// </summary>
    public static IAsyncEnumerable<TokenChunk> StreamWithResumeAsync(this IClusterClient client, string model, GenerateRequest request,
        ResumeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(model);
        options ??= ResumeOptions.Default;
        // The client's own view of its gateways, when it has one (MoeClusterConnection registers it).
        if (options.GatewayLosses is null && client.ServiceProvider.GetService(typeof(GatewayLossMonitor)) is GatewayLossMonitor monitor)
            options = options with { GatewayLosses = monitor };
        return StreamWithResumeAsync((attempt, ct) => client.GetGrain<IRouterGrain>(model).StreamAsync(attempt, ct), request, options, cancellationToken);
    }

    /// <summary>As the other overload, over any way of opening one attempt's stream (a test double, a custom router choice).</summary>
    public static IAsyncEnumerable<TokenChunk> StreamWithResumeAsync(Func<GenerateRequest, CancellationToken, IAsyncEnumerable<TokenChunk>> open,
        GenerateRequest request, ResumeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(open);
        ArgumentNullException.ThrowIfNull(request);
        options ??= ResumeOptions.Default;
        options.Validate();
        if (request.ResumeTokenIds is { Length: > 0 })
            throw new ArgumentException("the request already carries resume_token_ids; StreamWithResumeAsync resumes by itself", nameof(request));
        return Run(open, Prepare(request, options), options, cancellationToken);
    }

    /// <summary>The request as every attempt sends it: a fixed id, a fixed seed, heartbeats on.</summary>
    internal static GenerateRequest Prepare(GenerateRequest request, ResumeOptions options) => request with
    {
        RequestId = string.IsNullOrEmpty(request.RequestId) ? Guid.NewGuid().ToString("N") : request.RequestId,
        Sampling = request.Sampling.Seed is null ? request.Sampling with { Seed = (ulong)Random.Shared.NextInt64() } : request.Sampling,
        HeartbeatInterval = options.HeartbeatInterval,
    };

    /// <summary>
    /// Why a failed attempt is worth resuming (<see cref="ResumeReasons"/>), or null when the failure is the request's own.
    /// A rank that is gone shows as an Orleans failure (silo unavailable, message rejected, connection lost, enumeration
    /// aborted), a timeout, or a cancellation the caller did not ask for; a stopping rank as <see cref="MoeErrorCode.ShuttingDown"/>.
    /// </summary>
    public static string? ResumeReasonOf(Exception error) => error switch
    {
        MoeRequestException { Code: MoeErrorCode.ShuttingDown } => ResumeReasons.ShuttingDown,
        MoeRequestException => null,
        StallException or GatewayLostException => ResumeReasons.RankLost,
        // The rank deactivated the router (a stopping silo does) and its stream with it.
        EnumerationAbortedException => ResumeReasons.RankLost,
        OrleansException or TimeoutException or OperationCanceledException => ResumeReasons.RankLost,
        System.Net.Sockets.SocketException or IOException => ResumeReasons.RankLost,
        _ => null,
    };

    static async IAsyncEnumerable<TokenChunk> Run(Func<GenerateRequest, CancellationToken, IAsyncEnumerable<TokenChunk>> open, GenerateRequest request,
        ResumeOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var delivered = new List<int>();
        string? reason = null;
        TimeSpan backoff = options.InitialBackoff;
        int resumes = 0, fruitless = 0;
        bool finished = false;
        while (true)
        {
            int deliveredBefore = delivered.Count;
            GenerateRequest attempt = reason is null ? request : request with { ResumeTokenIds = delivered.ToArray(), ResumeReason = reason };
            var attemptCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // Silence is counted from the attempt's start and from each chunk, heartbeats included.
            long lastChunk = Stopwatch.GetTimestamp();
            IAsyncEnumerator<TokenChunk> chunks = open(attempt, attemptCancel.Token).GetAsyncEnumerator(attemptCancel.Token);
            Exception? failure = null;
            bool ended = false;
            try
            {
                while (true)
                {
                    Step step = await NextAsync(chunks, options, lastChunk, cancellationToken).ConfigureAwait(false);
                    if (step.Error is { } error)
                    {
                        failure = error;
                        break;
                    }
                    if (step.Chunk is not { } chunk)
                    {
                        ended = true;
                        break;
                    }
                    lastChunk = Stopwatch.GetTimestamp();
                    if (chunk.IsHeartbeat) continue;
                    // A stop-string request's last words after an end-of-sequence token: text, no token.
                    if (chunk.IsTrailer)
                    {
                        finished = true;
                        yield return chunk;
                        continue;
                    }
                    // A resumed attempt numbers its chunks on from what the caller has; anything else is not this request's next token.
                    if (chunk.Index != delivered.Count)
                        throw new InvalidOperationException($"request {request.RequestId}: expected token {delivered.Count}, the router sent token {chunk.Index}");
                    delivered.Add(chunk.TokenId);
                    finished |= chunk.FinishReason is not null;
                    yield return chunk;
                }
            }
            finally
            {
                if (ended)
                {
                    await chunks.DisposeAsync().ConfigureAwait(false);
                    attemptCancel.Dispose();
                }
                // A failed, stalled or abandoned attempt is let go without waiting on a rank that may never answer.
                else Abandon(chunks, attemptCancel);
            }
            // A chunk that said why generation ended was the last: a rank lost after it costs nothing.
            if (ended || finished) yield break;
            cancellationToken.ThrowIfCancellationRequested();
            string? why = ResumeReasonOf(failure!);
            // Progress since the last resume starts the count of fruitless resumes (and the back-off) afresh.
            if (delivered.Count > deliveredBefore)
            {
                fruitless = 0;
                backoff = options.InitialBackoff;
            }
            if (why is null || fruitless >= options.MaxResumes) ExceptionDispatchInfo.Throw(failure!);
            // Every token the request may have was already delivered: the stream is done (its stop token, if any, was not).
            if (delivered.Count >= request.Sampling.MaxTokens) yield break;
            resumes++;
            fruitless++;
            reason = why;
            options.OnResume?.Invoke(new StreamResume(request.RequestId, delivered.Count, resumes, why, failure));
            await Task.Delay(backoff, cancellationToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, options.MaxBackoff.Ticks));
        }
    }

    readonly record struct Step(TokenChunk? Chunk, Exception? Error);

    /// <summary>
    /// The next chunk, null at the end, or the attempt's failure. Silence counts as a failure too: for
    /// <see cref="ResumeOptions.StallTimeout"/>, or for <see cref="ResumeOptions.LostGatewayGrace"/> after a gateway
    /// connection of the client closed since <paramref name="lastChunk"/> (see <see cref="LossDeadline"/>).
    /// </summary>
    static async Task<Step> NextAsync(IAsyncEnumerator<TokenChunk> chunks, ResumeOptions options, long lastChunk, CancellationToken caller)
    {
        try
        {
            ValueTask<bool> move = chunks.MoveNextAsync();
            if (move.IsCompleted) return new Step(await move.ConfigureAwait(false) ? chunks.Current : null, null);
            Task<bool> moving = move.AsTask();
            GatewayLossMonitor? losses = options.GatewayLosses;
            TimeSpan grace = options.EffectiveLostGatewayGrace;
            while (true)
            {
                // The signal before the time: a loss after this line completes the signal, one before it shows in the time.
                Task? nextLoss = losses?.NextLoss;
                long lost = losses?.LastLossTimestamp ?? 0;
                long now = Stopwatch.GetTimestamp();
                TimeSpan? sinceLoss = lost > lastChunk ? Stopwatch.GetElapsedTime(lost, now) : null;
                LossDeadline.Wait wait = LossDeadline.Of(Stopwatch.GetElapsedTime(lastChunk, now), sinceLoss, options.StallTimeout, grace);
                if (wait.Expired) return Silent(wait, options, sinceLoss);
                // Once a loss counts, a later one cannot bring the deadline closer: wait for the chunk or the deadline only.
                Task awaited = nextLoss is null || sinceLoss is not null ? moving : Task.WhenAny(moving, nextLoss);
                try
                {
                    await awaited.WaitAsync(wait.Remaining, caller).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The deadline passed (the next turn finds it expired), or the call itself timed out (awaited below).
                }
                if (moving.IsCompleted) return new Step(await moving.ConfigureAwait(false) ? chunks.Current : null, null);
            }
        }
        catch (Exception e) when (!caller.IsCancellationRequested)
        {
            return new Step(null, e);
        }
    }

    static Step Silent(LossDeadline.Wait wait, ResumeOptions options, TimeSpan? sinceLoss) => new(null, wait.ForLostGateway
        ? new GatewayLostException(sinceLoss ?? TimeSpan.Zero)
        : new StallException(options.StallTimeout));

    static void Abandon(IAsyncEnumerator<TokenChunk> chunks, CancellationTokenSource attemptCancel)
    {
        _ = Task.Run(async () =>
        {
            try
            {
                await attemptCancel.CancelAsync().ConfigureAwait(false);
                await chunks.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception)
            {
                // The rank is gone or going; what its stream says on the way out does not matter.
            }
            finally
            {
                attemptCancel.Dispose();
            }
        });
    }

    /// <summary>Neither a token nor a heartbeat arrived in time: the rank serving the stream is taken for lost.</summary>
    public sealed class StallException(TimeSpan stall)
        : TimeoutException($"no token and no heartbeat for {stall.TotalSeconds:F1} s: the rank serving the stream is taken for lost");

    /// <summary>
    /// One of the client's gateway connections closed and the stream has heard nothing since, for the lost-gateway grace:
    /// its rank is taken for lost (<see cref="GatewayLossMonitor"/>).
    /// </summary>
    public sealed class GatewayLostException(TimeSpan sinceLoss)
        : TimeoutException($"a gateway connection closed {sinceLoss.TotalSeconds:F1} s ago and the stream has had no token and no heartbeat since: the rank serving it is taken for lost");
}
