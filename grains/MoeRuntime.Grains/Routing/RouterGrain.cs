using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
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
public sealed class RouterGrain(RouterRuntime runtime, ILogger<RouterGrain> logger) : Grain, IRouterGrain
{
    public Task<RouterStatus> GetStatusAsync() => Task.FromResult(runtime.Status());

    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellationToken)
    {
        var (stream, requestId, prompt) = Submit(request, cancellationToken);
        var clock = Stopwatch.StartNew();
        double firstTokenMs = 0;
        var logits = request.IncludeLogits ? new List<float[]>() : null;
        GenerationResult result = await Translate(async () =>
        {
            await foreach (StreamedToken token in stream.Tokens.WithCancellation(cancellationToken))
            {
                if (token.Index == 0) firstTokenMs = clock.Elapsed.TotalMilliseconds;
                if (token.Logits is { } l) logits!.Add(l);
            }
            return await stream.Completion;
        });
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
        var (stream, _, _) = Submit(request, cancellationToken);
        IStreamingDecoder decoder = runtime.Host.Tokenizer.CreateStreamingDecoder();
        await using IAsyncEnumerator<StreamedToken> tokens = stream.Tokens.GetAsyncEnumerator(cancellationToken);
        while (await Translate(async () => await tokens.MoveNextAsync()))
        {
            StreamedToken token = tokens.Current;
            yield return new TokenChunk { TokenId = token.Id, Index = token.Index, Text = decoder.Append(token.Id), Logits = token.Logits };
        }
        await Translate(() => stream.Completion);
    }

    (GenerationStream Stream, string RequestId, int PromptTokens) Submit(GenerateRequest request, CancellationToken cancellationToken)
    {
        runtime.Host.EnsureServes(this.GetPrimaryKeyString());
        string requestId = string.IsNullOrEmpty(request.RequestId) ? Guid.NewGuid().ToString("N") : request.RequestId;
        if (string.IsNullOrEmpty(request.Prompt)) throw new MoeRequestException(MoeErrorCode.InvalidRequest, "the prompt is empty");
        IReadOnlyList<int> prompt = runtime.Host.Tokenizer.Encode(request.Prompt);
        SamplingParameters s = request.Sampling;
        var options = new SamplingOptions
        {
            Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK, MaxTokens = s.MaxTokens,
            Seed = s.Seed ?? (ulong)Random.Shared.NextInt64(),
            StopTokenIds = s.StopTokenIds ?? runtime.Host.Tokenizer.EndOfSequenceIds,
        };
        try
        {
            GenerationStream stream = runtime.Batcher.Submit(new GenerationRequest(prompt, options) { CaptureLogits = request.IncludeLogits }, request.Deadline, cancellationToken);
            logger.LogInformation("Request {RequestId} admitted: {PromptTokens} prompt tokens, max {MaxTokens}", requestId, prompt.Count, options.MaxTokens);
            return (stream, requestId, prompt.Count);
        }
        catch (Exception e) when (ToRequestError(e) is { } error)
        {
            logger.LogWarning("Request {RequestId} refused: {Code} {Reason}", requestId, error.Code, e.Message);
            throw error;
        }
    }

    async Task<T> Translate<T>(Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (Exception e) when (ToRequestError(e) is { } error)
        {
            logger.LogWarning("Request failed: {Code} {Reason}", error.Code, e.Message);
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
