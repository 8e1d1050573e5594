using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using MoeRuntime.Serving.Text;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Security;
using Orleans.Concurrency;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// Turns client requests into batcher submissions and batcher output into token chunks. One
/// activation per rank, local to the gateway the client reached; the rank's batching engine does the work.
/// </summary>
// Idle-worker removal would deactivate the router between two polls of a stream and drop every open
// stream's enumerator with it (the client then sees EnumerationAbortedException); collection age only
// deactivates it after it has truly been idle.
[StatelessWorker(1, removeIdleWorkers: false), Reentrant]
public sealed class RouterGrain(RouterRuntime runtime, RankTelemetry telemetry, IOptions<MoeSiloOptions> options, TenantPseudonyms pseudonyms, ILogger<RouterGrain> logger)
    : Grain, IRouterGrain
{
    public Task<RouterStatus> GetStatusAsync() => Task.FromResult(runtime.Status());

    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        using var run = new RequestRun(Context(), request, "generate");
        GenerationStream stream = run.Submit(cancellationToken);
        var logits = request.IncludeLogits ? new List<float[]>() : null;
        var logprobs = request.TopLogprobs is not null ? new List<TokenLogprobs>() : null;
        GenerationResult result = await run.Translate(async () =>
        {
            await foreach (StreamedToken token in stream.Tokens.WithCancellation(cancellationToken))
            {
                run.Token(token);
                if (token.Logits is { } l) logits!.Add(l);
                if (token.Logprobs is { } p) logprobs!.Add(p);
            }
            return await stream.Completion;
        });
        run.Succeeded(result);
        // A resumed request's answer is the whole answer: the tokens the client had, then the new ones.
        int[] tokenIds = run.ResumedTokens == 0 ? result.Tokens.ToArray() : [.. request.ResumeTokenIds!, .. result.Tokens];
        return new GenerateResponse
        {
            RequestId = run.RequestId,
            Text = BeforeStop(runtime.Host.Tokenizer.Decode(tokenIds), request.StopStrings),
            TokenIds = tokenIds,
            FinishReason = FinishName(result.Reason),
            PromptTokens = run.PromptTokens,
            Seed = result.Seed,
            TimeToFirstTokenMs = run.FirstToken.TotalMilliseconds,
            TotalMs = run.Elapsed.TotalMilliseconds,
            Logits = logits?.ToArray(),
            Logprobs = logprobs?.Select(p => p.Chosen).ToArray(),
            TopLogprobs = logprobs?.Select(Wire).ToArray(),
            PromptTokenIds = request.IncludePromptTokenIds ? run.PromptTokenIds : null,
        };
    }

    public async IAsyncEnumerable<TokenChunk> StreamAsync(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var run = new RequestRun(Context(), request, "stream");
        GenerationStream stream = run.Submit(cancellationToken);
        // With stop strings the batcher decodes (and stops) the sequence; without, the text is decoded here.
        IStreamingDecoder? decoder = run.DecodesInBatcher ? null : runtime.Host.Tokenizer.CreateStreamingDecoder();
        // A resumed stream's text continues the client's: the decoder first sees the tokens the client already has.
        if (decoder is not null) foreach (int id in request.ResumeTokenIds ?? []) decoder.Append(id);
        bool finishSent = false;
        TimeSpan? heartbeat = request.HeartbeatInterval;
        Task? tick = null;
        await using IAsyncEnumerator<StreamedToken> tokens = stream.Tokens.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            // No delegate or closure per token: a token already sampled completes this without allocating.
            Task<bool> next = run.NextAsync(tokens);
            // With heartbeats asked for, a wait longer than the interval yields one, so the client knows the rank is alive.
            while (heartbeat is { } every && !next.IsCompleted)
            {
                tick ??= Task.Delay(every, CancellationToken.None);
                if (await Task.WhenAny(next, tick) != tick) break;
                tick = null;
                yield return TokenChunk.Heartbeat;
            }
            if (!await next) break;
            StreamedToken token = tokens.Current;
            run.Token(token);
            int index = token.Index + run.ResumedTokens;
            finishSent = token.Finished is not null;
            yield return new TokenChunk
            {
                TokenId = token.Id, Index = index, Text = token.Text ?? decoder!.Append(token.Id), Logits = token.Logits,
                Logprob = token.Logprobs?.Chosen, TopLogprobs = token.Logprobs is { } p ? Wire(p) : null,
                PromptTokenIds = request.IncludePromptTokenIds && index == 0 ? run.PromptTokenIds : null,
                FinishReason = token.Finished is { } finished ? FinishName(finished) : null,
            };
        }
        GenerationResult result = await run.Translate(() => stream.Completion);
        run.Succeeded(result);
        // Ended on an end-of-sequence token, which is not sent: a request with stop strings still gets its held-back text and reason.
        if (run.DecodesInBatcher && !finishSent) yield return TokenChunk.Trailer(result.TrailingText);
    }

    /// <summary>The text before the first of <paramref name="stops"/> in <paramref name="text"/> (all of it when none occurs).</summary>
    static string BeforeStop(string text, string[]? stops)
    {
        int first = -1;
        foreach (string stop in stops ?? [])
        {
            int at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        return first < 0 ? text : text[..first];
    }

    static TokenLogprob[] Wire(TokenLogprobs logprobs) =>
        logprobs.Top.Select(t => new TokenLogprob { TokenId = t.Id, Logprob = t.Logprob }).ToArray();

    RouterContext Context() => new(runtime, telemetry, options.Value, pseudonyms, logger, this.GetPrimaryKeyString());

    /// <summary>What a request run needs from its router.</summary>
    sealed record RouterContext(RouterRuntime Runtime, RankTelemetry Telemetry, MoeSiloOptions Options, TenantPseudonyms Pseudonyms, ILogger Logger, string Model);

    static string FinishName(FinishReason reason) => reason == FinishReason.Stop ? "stop" : "length";

    /// <summary>
    /// One request from receipt to its end: the span, the clock, the request's telemetry and its
    /// lifecycle log, so that both entry points record the same things the same way.
    /// </summary>
    sealed class RequestRun : IDisposable
    {
        readonly RouterContext _grain;
        readonly GenerateRequest _request;
        readonly string _route;
        readonly Activity? _span;
        readonly long _received = Stopwatch.GetTimestamp();
        long _lastToken;
        bool _started, _streamed, _ended;
        // The prompt as the batcher was given it (resumed tokens included), for the shadow evaluation of the finished request.
        IReadOnlyList<int> _fed = [];

        public RequestRun(RouterContext grain, GenerateRequest request, string route)
        {
            _grain = grain;
            _request = request;
            _route = route;
            // A client's request id goes into logs and spans: only the short, plain ids of RequestIds get there.
            if (!string.IsNullOrEmpty(request.RequestId) && RequestIds.Problem(request.RequestId) is { } badId)
                throw new MoeRequestException(MoeErrorCode.InvalidRequest, $"RequestId: {badId}");
            RequestId = string.IsNullOrEmpty(request.RequestId) ? Guid.NewGuid().ToString("N") : request.RequestId;
            Tenant = grain.Pseudonyms.Of(request.Tenant);
            grain.Runtime.RequestStarted();
            grain.Telemetry.StreamOpened(route);
            _span = ServingTracing.StartRequest();
            if (_span is null) return;
            _span.SetTag("gen_ai.operation.name", "text_completion");
            _span.SetTag("gen_ai.request.model", grain.Runtime.Host.ModelName);
            _span.SetTag("gen_ai.request.max_tokens", request.Sampling.MaxTokens);
            _span.SetTag("gen_ai.request.temperature", request.Sampling.Temperature);
            _span.SetTag("gen_ai.request.top_p", request.Sampling.TopP);
            _span.SetTag("moe.request.mode", route);
            _span.SetTag("moe.request.id", RequestId);
            _span.SetTag("moe.tenant", Tenant);
            _span.SetTag("moe.rank", grain.Runtime.Host.Rank);
        }

        public string RequestId { get; }
        /// <summary>The tenant as its pseudonym: what logs, spans and metrics carry.</summary>
        public string Tenant { get; }
        public int PromptTokens { get; private set; }
        /// <summary>How many tokens the client already had when it resumed the request here (0 for a fresh request).</summary>
        public int ResumedTokens { get; private set; }
        public int[]? PromptTokenIds { get; private set; }
        /// <summary>The request has stop strings: the batcher decodes its tokens and ends it at one (<see cref="StopStringDetokenizer"/>).</summary>
        public bool DecodesInBatcher { get; private set; }
        public TimeSpan FirstToken { get; private set; }
        public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_received);

        public GenerationStream Submit(CancellationToken cancellationToken)
        {
            ModelHost host = _grain.Runtime.Host;
            try
            {
                host.EnsureServes(_grain.Model);
                bool tokenized = _request.PromptTokenIds is { Length: > 0 };
                if (tokenized && !string.IsNullOrEmpty(_request.Prompt))
                    throw new MoeRequestException(MoeErrorCode.InvalidRequest, "the request gives both prompt and prompt_token_ids; give one");
                if (!tokenized && string.IsNullOrEmpty(_request.Prompt)) throw new MoeRequestException(MoeErrorCode.InvalidRequest, "the prompt is empty");
                // Before tokenising: a prompt's characters bound the tokenizer's work, the rest what generation may hold.
                RequestLimits limits = _grain.Runtime.Limits;
                if (!tokenized) limits.CheckPrompt(_request.Prompt);
                limits.CheckGeneration(_request.Sampling.MaxTokens, _request.Sampling.StopTokenIds?.Length ?? 0, _request.IncludeLogits);
                limits.CheckStopStrings(_request.StopStrings);
                IReadOnlyList<int> prompt;
                // Ids were tokenized by the caller with this cluster's tokenizer (the front door, once); the batcher checks them.
                if (tokenized) prompt = _request.PromptTokenIds!;
                else using (Activity? tokenize = ServingTracing.Source.StartActivity("moe.tokenize"))
                {
                    long started = Stopwatch.GetTimestamp();
                    try
                    {
                        prompt = host.Tokenizer.Encode(_request.Prompt, addBeginOfSequence: !_request.SkipBeginOfSequence);
                    }
                    catch (Exception e) when (e is not (RegexMatchTimeoutException or OperationCanceledException or OutOfMemoryException))
                    {
                        throw new TokenizationFailedException(e);
                    }
                    _grain.Telemetry.Tokenized(Stopwatch.GetElapsedTime(started));
                    tokenize?.SetTag("gen_ai.usage.input_tokens", prompt.Count);
                }
                PromptTokens = prompt.Count;
                if (_request.IncludePromptTokenIds) PromptTokenIds = prompt.ToArray();
                SamplingParameters s = _request.Sampling;
                int[] resumed = _request.ResumeTokenIds ?? [];
                CheckResume(resumed, s, _request.HeartbeatInterval);
                if (resumed.Length > 0)
                {
                    // The prompt plus what the client already has: the batcher continues at the next position.
                    prompt = [.. prompt, .. resumed];
                    ResumedTokens = resumed.Length;
                }
                var sampling = new SamplingOptions
                {
                    Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK, MaxTokens = s.MaxTokens - resumed.Length,
                    Seed = s.Seed ?? (ulong)Random.Shared.NextInt64(),
                    StopTokenIds = s.StopTokenIds ?? host.Tokenizer.EndOfSequenceIds,
                };
                StopStringDetokenizer? textStop = null;
                if (_request.StopStrings is { Length: > 0 } stops)
                {
                    // The batcher checks resumed ids with the prompt, but the replay below decodes them first.
                    for (int i = 0; i < resumed.Length; i++)
                        if ((uint)resumed[i] >= (uint)host.Tokenizer.VocabularySize)
                            throw new MoeRequestException(MoeErrorCode.InvalidRequest,
                                $"resume token at position {i} lies outside the vocabulary of {host.Tokenizer.VocabularySize}");
                    textStop = new StopStringDetokenizer(host.Tokenizer.CreateStreamingDecoder(), stops);
                    // A resumed request's text continues from what was delivered: the same partial character, the same held-back tail.
                    if (!textStop.Replay(resumed))
                        throw new MoeRequestException(MoeErrorCode.InvalidRequest,
                            "resume_token_ids already reach one of the stop strings: the request had ended there");
                    DecodesInBatcher = true;
                }
                var generation = new GenerationRequest(prompt, sampling)
                {
                    CaptureLogits = _request.IncludeLogits,
                    TopLogprobs = _request.TopLogprobs,
                    RequestKey = RoutingDigest.HashRequestId(RequestId),
                    TextStop = textStop,
                };
                // The batcher parents the request's stage spans to the current activity.
                Activity.Current = _span;
                GenerationStream stream = _grain.Runtime.Batcher.Submit(generation, _request.Deadline, cancellationToken);
                _started = true;
                _fed = prompt;
                _grain.Telemetry.RequestStarted(_route);
                if (resumed.Length > 0)
                {
                    string reason = ResumeReasons.Normalize(_request.ResumeReason);
                    _grain.Telemetry.RequestResumed(_route, reason);
                    _span?.SetTag("moe.request.resumed_tokens", resumed.Length);
                    RequestLog.Resumed(_grain.Logger, RequestId, resumed.Length, reason, Tenant);
                }
                _grain.Logger.LogDebug("Request {RequestId} admitted: {PromptTokens} prompt tokens, max {MaxTokens}", RequestId, prompt.Count, sampling.MaxTokens);
                return stream;
            }
            catch (Exception e)
            {
                throw Failed(e);
            }
        }

        public void Token(StreamedToken token)
        {
            long now = Stopwatch.GetTimestamp();
            if (token.Index == 0) FirstToken = Stopwatch.GetElapsedTime(_received, now);
            else _grain.Telemetry.TokenGap(_route, token.Index, Stopwatch.GetElapsedTime(_lastToken, now), _span);
            _lastToken = now;
            _streamed = true;
        }

        /// <summary>The stream's next token, as <see cref="Translate{T}"/> would wait for it, without a delegate per token.</summary>
        public async Task<bool> NextAsync(IAsyncEnumerator<StreamedToken> tokens)
        {
            try
            {
                return await tokens.MoveNextAsync();
            }
            catch (Exception e)
            {
                throw Failed(e);
            }
        }

        /// <summary>Runs a wait on the batcher, turning its failures into client-facing errors, all recorded.</summary>
        public async Task<T> Translate<T>(Func<Task<T>> work)
        {
            try
            {
                return await work();
            }
            catch (Exception e)
            {
                throw Failed(e);
            }
        }

        public void Succeeded(GenerationResult result)
        {
            _ended = true;
            string finish = FinishName(result.Reason);
            _grain.Telemetry.RequestSucceeded(_route, Tenant, PromptTokens, result.Tokens.Count, Elapsed, FirstToken, _span);
            _span?.SetTag("gen_ai.usage.input_tokens", PromptTokens);
            _span?.SetTag("gen_ai.usage.output_tokens", result.Tokens.Count);
            _span?.SetTag("gen_ai.response.finish_reasons", finish);
            if (RequestLog.Sampled(RequestId, _grain.Options.SuccessLogSampleRatio))
                RequestLog.Completed(_grain.Logger, RequestId, PromptTokens, result.Tokens.Count, finish, Elapsed.TotalMilliseconds,
                    FirstToken.TotalMilliseconds, Tenant);
            // Off the client's path: a sampled request is queued (or dropped) for the shadow candidate, never waited on.
            _grain.Runtime.Shadow?.Finished(RequestId, _fed, result.Tokens);
        }

        MoeRequestException Failed(Exception e)
        {
            MoeRequestException error = ToRequestError(e, _started);
            if (!_ended)
            {
                _ended = true;
                _grain.Telemetry.RequestFailed(_route, RequestFailureLabels.Of(error.Code, e, _started, _streamed), _started, _streamed);
                RequestLog.Failed(_grain.Logger, RequestId, error.Code, e.Message, Tenant);
                _span?.SetStatus(ActivityStatusCode.Error, error.Code.ToString());
            }
            return error;
        }

        /// <summary>A client that stops reading a stream ends the request without an exception reaching here.</summary>
        public void Dispose()
        {
            if (!_ended && _started) Failed(new OperationCanceledException("the client stopped reading the stream"));
            _span?.Dispose();
            _grain.Runtime.RequestEnded();
            _grain.Telemetry.StreamClosed(_route);
        }
    }

    /// <summary>Refuses a resume that cannot continue the request it names, and a heartbeat interval out of bounds.</summary>
    static void CheckResume(int[] resumed, SamplingParameters sampling, TimeSpan? heartbeat)
    {
        if (resumed.Length > 0 && resumed.Length >= sampling.MaxTokens)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest,
                $"resume_token_ids holds {resumed.Length} tokens, but max_tokens is {sampling.MaxTokens}: nothing is left to generate");
        if (resumed.Length > 0 && sampling.Temperature > 0 && sampling.TopK != 1 && sampling.Seed is null)
            throw new MoeRequestException(MoeErrorCode.InvalidRequest,
                "a sampled request can only be resumed with the seed of its first attempt: set sampling.seed");
        if (heartbeat is { } h && (h < GenerateRequest.MinHeartbeatInterval || h > GenerateRequest.MaxHeartbeatInterval))
            throw new MoeRequestException(MoeErrorCode.InvalidRequest,
                $"heartbeat_interval must lie between {GenerateRequest.MinHeartbeatInterval.TotalMilliseconds} ms and {GenerateRequest.MaxHeartbeatInterval.TotalSeconds} s (is {h.TotalMilliseconds} ms)");
    }

    /// <summary>The client-facing form of a failure of a request the batcher had (<paramref name="started"/>) or had not yet taken.</summary>
    static MoeRequestException ToRequestError(Exception e, bool started) => e switch
    {
        MoeRequestException m => m,
        AdmissionRejectedException => new MoeRequestException(MoeErrorCode.AdmissionRejected, e.Message),
        BatcherFaultException or TokenizationFailedException => new MoeRequestException(MoeErrorCode.Internal, e.Message),
        // A TimeoutException, but the prompt's fault, not the deadline's; the exception's message would not say which limit.
        RegexMatchTimeoutException r => new MoeRequestException(MoeErrorCode.InvalidRequest,
            $"tokenising the prompt ran past the tokenizer's regex timeout of {r.MatchTimeout.TotalMilliseconds} ms; the prompt is refused"),
        ArgumentException => new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message),
        TimeoutException => new MoeRequestException(MoeErrorCode.DeadlineExceeded, e.Message),
        OperationCanceledException => new MoeRequestException(MoeErrorCode.Cancelled, e.Message),
        ObjectDisposedException => new MoeRequestException(MoeErrorCode.ShuttingDown, started
            ? "the rank is shutting down and stopped the request before it finished; retry it on another rank"
            : "the rank is shutting down and takes no new requests; retry on another rank"),
        _ => new MoeRequestException(MoeErrorCode.ExpertFailure, e.Message),
    };
}
