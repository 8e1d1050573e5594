using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace MoeRuntime.FrontDoor.Tests;

/// <summary>
/// A backend whose "model" answers with a script: <see cref="Script"/> maps a call to its token texts. Prompt tokens are
/// the prompt's characters (their UTF-16 code units as ids). It records every call and whether its generation was cancelled.
/// </summary>
sealed class FakeBackend : IInferenceBackend
{
    public List<ServedModel> Models { get; } = [new("fake-moe", 64)];
    public Func<GenerationCall, IReadOnlyList<string>> Script { get; set; } = call => ["Hello", ",", " world", "!"];
    /// <summary>Thrown when generation starts, before the first token.</summary>
    public Exception? FailOnStart { get; set; }
    /// <summary>Thrown after the first token.</summary>
    public Exception? FailMidStream { get; set; }
    /// <summary>When set, generation waits on it before each token after the first.</summary>
    public SemaphoreSlim? Gate { get; set; }
    public bool SupportsLogprobs { get; set; }
    /// <summary>When true the front door leaves stop strings to this backend, whose script then plays the part.</summary>
    public bool MatchesStopStrings { get; set; }
    /// <summary>When set, the stream ends with a trailer carrying this text (a stop-matching backend's held-back text).</summary>
    public string? Trailer { get; set; }
    public string? FinishReason { get; set; }
    public ConcurrentQueue<GenerationCall> Calls { get; } = new();
    public ConcurrentQueue<IReadOnlyList<ChatTurn>> Chats { get; } = new();
    public int Cancelled;
    public int Running;
    /// <summary>Requests the front door refused for their tenant's limits, as told to the backend.</summary>
    public int OverLimit;

    public void TenantOverLimit() => Interlocked.Increment(ref OverLimit);
    public TaskCompletionSource FirstTokenSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ValueTask<IReadOnlyList<ServedModel>> ListModelsAsync(CancellationToken cancellationToken) => new(Models);

    public ValueTask<int[]> EncodePromptAsync(string model, string prompt, bool chat, CancellationToken cancellationToken) =>
        new(prompt.Select(c => (int)c).ToArray());

    public ValueTask<string> RenderChatAsync(string model, IReadOnlyList<ChatTurn> messages, CancellationToken cancellationToken)
    {
        Chats.Enqueue(messages);
        return new(string.Concat(messages.Select(m => $"<{m.Role}>{m.Content}")) + "<assistant>");
    }

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(GenerationCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        Calls.Enqueue(call);
        if (FailOnStart is { } failure) throw failure;
        Interlocked.Increment(ref Running);
        try
        {
            IReadOnlyList<string> texts = Script(call);
            for (int i = 0; i < texts.Count && i < call.MaxTokens; i++)
            {
                if (i > 0 && FailMidStream is { } midStream) throw midStream;
                if (i > 0 && Gate is not null) await Gate.WaitAsync(cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
                bool last = (i == texts.Count - 1 || i == call.MaxTokens - 1) && Trailer is null;
                yield return new GeneratedToken
                {
                    TokenId = i,
                    Text = texts[i],
                    Logprob = call.Logprobs ? -0.5f * (i + 1) : null,
                    TopLogprobs = call.Logprobs ? Enumerable.Range(0, call.TopLogprobs).Select(k => new TokenAlternative($"alt{k}", -1f - k)).ToArray() : null,
                    FinishReason = last ? FinishReason : null,
                };
                if (i == 0) FirstTokenSent.TrySetResult();
            }
            if (Trailer is { } trailer) yield return new GeneratedToken { TokenId = -1, Text = trailer, FinishReason = "stop", IsTrailer = true };
        }
        finally
        {
            if (cancellationToken.IsCancellationRequested) Interlocked.Increment(ref Cancelled);
            Interlocked.Decrement(ref Running);
        }
    }
}
