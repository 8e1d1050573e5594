using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MoeRuntime.Grains.Diagnostics;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Model.Tokenization;
using Orleans.Concurrency;

namespace MoeRuntime.Grains.Routing;

/// <summary>
/// Turns client requests into batcher submissions and batcher output into token chunks. One
/// activation per rank, local to the gateway the client reached; the rank's batching engine does the work.
/// </summary>
[StatelessWorker(1), Reentrant]
public sealed class RouterGrain(RouterRuntime runtime, IOptions<MoeSiloOptions> options, ILogger<RouterGrain> logger) : Grain, IRouterGrain
{
    public Task<RouterStatus> GetStatusAsync() => Task.FromResult(runtime.Status());

    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        using Activity? span = StartRequest(request, "generate");
        var (stream, requestId, prompt) = Submit(request, span, cancellationToken);
        var clock = Stopwatch.StartNew();
        double firstTokenMs = 0;
        var logits = request.IncludeLogits ? new List<float[]>() : null;
        GenerationResult result = await Translate(request, requestId, async () =>
        {
            await foreach (StreamedToken token in stream.Tokens.WithCancellation(cancellationToken))
            {
                if (token.Index == 0) firstTokenMs = clock.Elapsed.TotalMilliseconds;
                if (token.Logits is { } l) logits!.Add(l);
            }
            return await stream.Completion;
        });
        Finish(span, request, requestId, prompt, result, clock.Elapsed.TotalMilliseconds, firstTokenMs);
        return new GenerateResponse
        {
            RequestId = requestId,
            Text = runtime.Host.Tokenizer.Decode(result.Tokens),
            TokenIds = result.Tokens.ToArray(),
            FinishReason = result.Reason == FinishReason.Stop ? "stop" : "length",
            PromptTokens = prompt,
            Seed = result.Seed,
            TimeToFirstTokenMs = firstTokenMs,
            TotalMs = clock.Elapsed.TotalMilliseconds,
            Logits = logits?.ToArray(),
        };
    }

    public async IAsyncEnumerable<TokenChunk> StreamAsync(GenerateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using Activity? span = StartRequest(request, "stream");
        var (stream, requestId, prompt) = Submit(request, span, cancellationToken);
        var clock = Stopwatch.StartNew();
        double firstTokenMs = 0;
        IStreamingDecoder decoder = runtime.Host.Tokenizer.CreateStreamingDecoder();
        await using IAsyncEnumerator<StreamedToken> tokens = stream.Tokens.GetAsyncEnumerator(cancellationToken);
        while (await Translate(request, requestId, async () => await tokens.MoveNextAsync()))
        {
            StreamedToken token = tokens.Current;
            if (token.Index == 0) firstTokenMs = clock.Elapsed.TotalMilliseconds;
            yield return new TokenChunk { TokenId = token.Id, Index = token.Index, Text = decoder.Append(token.Id), Logits = token.Logits };
        }
        GenerationResult result = await Translate(request, requestId, () => stream.Completion);
        Finish(span, request, requestId, prompt, result, clock.Elapsed.TotalMilliseconds, firstTokenMs);
    }

    /// <summary>The request's span; its stages (tokenize, queue, prefill, decode, steps) become its children.</summary>
    Activity? StartRequest(GenerateRequest request, string mode)
    {
        Activity? span = ServingTracing.Source.StartActivity("moe.request", ActivityKind.Server);
        if (span is null) return null;
        span.SetTag("gen_ai.operation.name", "text_completion");
        span.SetTag("gen_ai.request.model", runtime.Host.ModelName);
        span.SetTag("gen_ai.request.max_tokens", request.Sampling.MaxTokens);
        span.SetTag("gen_ai.request.temperature", request.Sampling.Temperature);
        span.SetTag("gen_ai.request.top_p", request.Sampling.TopP);
        span.SetTag("moe.request.mode", mode);
        span.SetTag("moe.tenant", ServingTracing.Pseudonym(request.Tenant));
        span.SetTag("moe.rank", runtime.Host.Rank);
        return span;
    }

    void Finish(Activity? span, GenerateRequest request, string requestId, int promptTokens, GenerationResult result, double durationMs, double firstTokenMs)
    {
        string finish = result.Reason == FinishReason.Stop ? "stop" : "length";
        span?.SetTag("gen_ai.usage.input_tokens", promptTokens);
        span?.SetTag("gen_ai.usage.output_tokens", result.Tokens.Count);
        span?.SetTag("gen_ai.response.finish_reasons", finish);
        if (RequestLog.Sampled(requestId, options.Value.SuccessLogSampleRatio))
            RequestLog.Completed(logger, requestId, promptTokens, result.Tokens.Count, finish, durationMs, firstTokenMs, ServingTracing.Pseudonym(request.Tenant));
    }

    (GenerationStream Stream, string RequestId, int PromptTokens) Submit(GenerateRequest request, Activity? span, CancellationToken cancellationToken)
    {
        runtime.Host.EnsureServes(this.GetPrimaryKeyString());
        string requestId = string.IsNullOrEmpty(request.RequestId) ? Guid.NewGuid().ToString("N") : request.RequestId;
        span?.SetTag("moe.request.id", requestId);
        if (string.IsNullOrEmpty(request.Prompt)) throw new MoeRequestException(MoeErrorCode.InvalidRequest, "the prompt is empty");
        IReadOnlyList<int> prompt;
        using (Activity? tokenize = ServingTracing.Source.StartActivity("moe.tokenize"))
        {
            prompt = runtime.Host.Tokenizer.Encode(request.Prompt);
            tokenize?.SetTag("gen_ai.usage.input_tokens", prompt.Count);
        }
        SamplingParameters s = request.Sampling;
        var sampling = new SamplingOptions
        {
            Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK, MaxTokens = s.MaxTokens,
            Seed = s.Seed ?? (ulong)Random.Shared.NextInt64(),
            StopTokenIds = s.StopTokenIds ?? runtime.Host.Tokenizer.EndOfSequenceIds,
        };
        // The batcher reads the current activity to parent the request's stage spans.
        Activity.Current = span;
        try
        {
            GenerationStream stream = runtime.Batcher.Submit(new GenerationRequest(prompt, sampling) { CaptureLogits = request.IncludeLogits }, request.Deadline, cancellationToken);
            logger.LogDebug("Request {RequestId} admitted: {PromptTokens} prompt tokens, max {MaxTokens}", requestId, prompt.Count, sampling.MaxTokens);
            return (stream, requestId, prompt.Count);
        }
        catch (Exception e) when (ToRequestError(e) is { } error)
        {
            RequestLog.Failed(logger, requestId, error.Code, e.Message, ServingTracing.Pseudonym(request.Tenant));
            span?.SetStatus(ActivityStatusCode.Error, error.Code.ToString());
            throw error;
        }
    }

    /// <summary>Runs a wait on the batcher, turning its failures into client-facing errors, all logged.</summary>
    async Task<T> Translate<T>(GenerateRequest request, string requestId, Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (Exception e)
        {
            MoeRequestException error = ToRequestError(e) ?? (MoeRequestException)e;
            RequestLog.Failed(logger, requestId, error.Code, e.Message, ServingTracing.Pseudonym(request.Tenant));
            if (ReferenceEquals(error, e)) throw;
            throw error;
        }
    }

    /// <summary>The client-facing form of a failure; null for errors that already are.</summary>
    static MoeRequestException? ToRequestError(Exception e) => e switch
    {
        MoeRequestException => null,
        AdmissionRejectedException => new MoeRequestException(MoeErrorCode.AdmissionRejected, e.Message),
        ArgumentException => new MoeRequestException(MoeErrorCode.InvalidRequest, e.Message),
        TimeoutException => new MoeRequestException(MoeErrorCode.DeadlineExceeded, e.Message),
        OperationCanceledException => new MoeRequestException(MoeErrorCode.Cancelled, e.Message),
        ObjectDisposedException => new MoeRequestException(MoeErrorCode.ShuttingDown, e.Message),
        _ => new MoeRequestException(MoeErrorCode.ExpertFailure, e.Message),
    };
}
