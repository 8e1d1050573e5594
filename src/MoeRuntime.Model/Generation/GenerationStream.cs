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

    internal GenerationStream(GenerationRequest request, DateTimeOffset? deadline, CancellationToken cancellationToken)
    {
        Request = request;
        Deadline = deadline;
        CancellationToken = cancellationToken;
    }

    public GenerationRequest Request { get; }
    public DateTimeOffset? Deadline { get; }
    internal CancellationToken CancellationToken { get; }
    internal SequenceState? State { get; set; }

    public IAsyncEnumerable<StreamedToken> Tokens => _tokens.Reader.ReadAllAsync();
    public Task<GenerationResult> Completion => _completion.Task;

    internal void Emit(StreamedToken token) => _tokens.Writer.TryWrite(token);

    internal void Complete(GenerationResult result)
    {
        _completion.TrySetResult(result);
        _tokens.Writer.TryComplete();
    }

    internal void Fail(Exception error)
    {
        _completion.TrySetException(error);
        _tokens.Writer.TryComplete(error);
    }
}
