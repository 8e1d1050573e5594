using System.Diagnostics;
using System.Threading.Channels;

namespace MoeRuntime.Model.Generation;

/// <summary>
/// The live output of one submitted request: tokens as the batcher samples them, then the result.
/// Enumerate <see cref="Tokens"/>; <see cref="Completion"/> ends with the result or the request's error.
/// </summary>
public sealed class GenerationStream
{
    readonly Channel<StreamedToken> _tokens = Channel.CreateUnbounded<StreamedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    readonly TaskCompletionSource<GenerationResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal GenerationStream(GenerationRequest request, DateTimeOffset? deadline, DateTimeOffset submittedAt, CancellationToken cancellationToken)
    {
        Request = request;
        Deadline = deadline;
        CancellationToken = cancellationToken;
        RequestContext = Activity.Current?.Context ?? default;
        SubmittedAt = submittedAt;
        Phase = GenerationTracing.StartDetached("moe.queue", RequestContext);
    }

    internal DateTimeOffset SubmittedAt { get; }

    /// <summary>KV-cache bytes reserved for the request while it is in the batch.</summary>
    internal long KvBytes { get; init; }

    /// <summary>The span of the request that submitted this stream; its stages become children of it.</summary>
    internal ActivityContext RequestContext { get; }

    /// <summary>The stage span in progress: queue, then prefill, then decode.</summary>
    internal Activity? Phase { get; private set; }

    internal void EnterPhase(string name)
    {
        Phase?.Dispose();
        Phase = GenerationTracing.StartDetached(name, RequestContext);
    }

    public GenerationRequest Request { get; }
    public DateTimeOffset? Deadline { get; }
    internal CancellationToken CancellationToken { get; }
    internal SequenceState? State { get; set; }

    public IAsyncEnumerable<StreamedToken> Tokens => _tokens.Reader.ReadAllAsync();
    public Task<GenerationResult> Completion => _completion.Task;

    internal void Emit(StreamedToken token)
    {
        _tokens.Writer.TryWrite(token);
        if (token.Index == 0) EnterPhase("moe.decode");
        else if (token.Index % GenerationTracing.TokenEventInterval == 0)
            Phase?.AddEvent(new ActivityEvent("moe.tokens", tags: new ActivityTagsCollection { ["moe.tokens.generated"] = token.Index + 1 }));
    }

    internal void Complete(GenerationResult result)
    {
        Phase?.SetTag("moe.tokens.generated", result.Tokens.Count);
        Phase?.SetTag("moe.finish_reason", result.Reason.ToString().ToLowerInvariant());
        Phase?.Dispose();
        _completion.TrySetResult(result);
        _tokens.Writer.TryComplete();
    }

    internal void Fail(Exception error)
    {
        Phase?.SetStatus(ActivityStatusCode.Error, error.Message);
        Phase?.Dispose();
        _completion.TrySetException(error);
        _tokens.Writer.TryComplete(error);
    }
}
