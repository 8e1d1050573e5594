using System.Diagnostics;
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

    public static StreamedRequest Start(IRouterGrain router, string prompt, int maxTokens, CancellationToken cancellationToken)
    {
        var request = new StreamedRequest(prompt);
        request.Ended = request.ConsumeAsync(router, maxTokens, cancellationToken);
        return request;
    }

    async Task ConsumeAsync(IRouterGrain router, int maxTokens, CancellationToken cancellationToken)
    {
        var generate = new GenerateRequest { Prompt = Prompt, Sampling = SamplingParameters.Greedy(maxTokens) with { StopTokenIds = [] } };
        long started = Stopwatch.GetTimestamp();
        try
        {
            await foreach (TokenChunk chunk in router.StreamAsync(generate, cancellationToken))
            {
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
            _firstToken.TrySetResult();
        }
    }

    public override string ToString() =>
        $"'{Prompt}': {_tokens.Count} tokens, " + (Error is null ? "completed" : $"failed with {Error.GetType().Name}: {Error.Message}");
}
