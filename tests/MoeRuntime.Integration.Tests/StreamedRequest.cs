using System.Diagnostics;
using MoeRuntime.Client;
using MoeRuntime.Grains;

namespace MoeRuntime.Integration.Tests;

/// <summary>One streaming request consumed in the background: the tokens that arrived and how it ended.</summary>
sealed class StreamedRequest
{
    readonly TaskCompletionSource _firstToken = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly List<int> _tokens = [];

    StreamedRequest(string prompt) => Prompt = prompt;

    public string Prompt { get; }
    /// <summary>Completes with the first token, or when the request ends without one.</summary>
    public Task FirstToken => _firstToken.Task;
    /// <summary>Completes when the stream ends, successfully or not; never faults.</summary>
    public Task Ended { get; private set; } = Task.CompletedTask;
    public Exception? Error { get; private set; }
    public IReadOnlyList<int> Tokens => _tokens;
    /// <summary>End-to-end latency as the client saw it: from the call to the stream's end.</summary>
    public TimeSpan Duration { get; private set; }
    /// <summary>From the call to the first token's arrival (the whole duration when no token came).</summary>
    public TimeSpan TimeToFirstToken { get; private set; }
    /// <summary>From the first token's arrival to the stream's end: a span the server's own timing contains.</summary>
    public TimeSpan StreamingTime => Duration - TimeToFirstToken;

    public static StreamedRequest Start(IRouterGrain router, string prompt, int maxTokens, CancellationToken cancellationToken)
    {
        var request = new StreamedRequest(prompt);
        request.Ended = request.ConsumeAsync(router, maxTokens, cancellationToken);
        return request;
    }

    /// <summary>Streams through the client library's resuming stream, counting its resumes.</summary>
    public static StreamedRequest StartResuming(IClusterClient cluster, string model, string prompt, SamplingParameters sampling, CancellationToken cancellationToken)
    {
        var request = new StreamedRequest(prompt);
        var options = ResumeOptions.Default with { OnResume = r => Interlocked.Increment(ref request._resumes) };
        var generate = new GenerateRequest { Prompt = prompt, Sampling = sampling };
        request.Ended = request.ConsumeAsync((g, ct) => cluster.StreamWithResumeAsync(model, g, options, ct), generate, cancellationToken);
        return request;
    }

    int _resumes;
    /// <summary>How often the resuming stream resumed on another rank.</summary>
    public int Resumes => Volatile.Read(ref _resumes);

    Task ConsumeAsync(IRouterGrain router, int maxTokens, CancellationToken cancellationToken) =>
        ConsumeAsync(router.StreamAsync, new GenerateRequest { Prompt = Prompt, Sampling = SamplingParameters.Greedy(maxTokens) with { StopTokenIds = [] } }, cancellationToken);

    async Task ConsumeAsync(Func<GenerateRequest, CancellationToken, IAsyncEnumerable<TokenChunk>> stream, GenerateRequest generate, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            await foreach (TokenChunk chunk in stream(generate, cancellationToken))
            {
                if (_tokens.Count == 0) TimeToFirstToken = Stopwatch.GetElapsedTime(started);
                _tokens.Add(chunk.TokenId);
                _firstToken.TrySetResult();
            }
        }
        catch (Exception e)
        {
            Error = e;
        }
        finally
        {
            Duration = Stopwatch.GetElapsedTime(started);
            if (_tokens.Count == 0) TimeToFirstToken = Duration;
            _firstToken.TrySetResult();
        }
    }

    public override string ToString() =>
        $"'{Prompt}': {_tokens.Count} tokens, {Resumes} resumes, " + (Error is null ? "completed" : $"failed with {Error.GetType().Name}: {Error.Message}");
}
