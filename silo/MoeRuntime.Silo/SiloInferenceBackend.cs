using System.Runtime.CompilerServices;
using System.Text;
using MoeRuntime.FrontDoor;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Hosting;

namespace MoeRuntime.Silo;

/// <summary>
/// The front door's backend on a silo: the model this rank serves, its tokenizer for prompt counts, and the rank's
/// router grain for generation, so a front-door request takes the path every client request takes. Logprobs are
/// refused until the router's token stream carries them.
/// </summary>
sealed class SiloInferenceBackend(IGrainFactory grains, ModelHost host) : IInferenceBackend
{
    public bool SupportsLogprobs => false;

    public ValueTask<IReadOnlyList<ServedModel>> ListModelsAsync(CancellationToken cancellationToken) =>
        new([new ServedModel(host.ModelName, host.Config.MaxPositionEmbeddings)]);

    public ValueTask<int> CountPromptTokensAsync(string model, string prompt, CancellationToken cancellationToken) =>
        new(host.Tokenizer.Encode(prompt).Count);

    /// <summary>
    /// The plain chat format (until checkpoints' chat templates are applied): each message as <c>&lt;|role|&gt;</c> on its
    /// own line followed by its content and a newline, then <c>&lt;|assistant|&gt;</c> and a newline for the answer.
    /// </summary>
    public ValueTask<string> RenderChatAsync(string model, IReadOnlyList<ChatTurn> messages, CancellationToken cancellationToken) =>
        new(PlainChat(messages));

    public static string PlainChat(IReadOnlyList<ChatTurn> messages)
    {
        var prompt = new StringBuilder();
        foreach (ChatTurn m in messages) prompt.Append("<|").Append(m.Role).Append("|>\n").Append(m.Content).Append('\n');
        return prompt.Append("<|assistant|>\n").ToString();
    }

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(GenerationCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new GenerateRequest
        {
            Prompt = call.Prompt,
            Tenant = call.Tenant,
            RequestId = call.RequestId,
            Sampling = new SamplingParameters
            {
                MaxTokens = call.MaxTokens, Temperature = call.Temperature, TopP = call.TopP, TopK = call.TopK, Seed = call.Seed,
                StopTokenIds = call.IgnoreEos ? [] : null,
            },
        };
        IAsyncEnumerator<TokenChunk> tokens = grains.GetGrain<IRouterGrain>(call.Model).StreamAsync(request, cancellationToken).GetAsyncEnumerator(cancellationToken);
        await using (tokens)
        {
            while (true)
            {
                try
                {
                    if (!await tokens.MoveNextAsync()) yield break;
                }
                catch (MoeRequestException e)
                {
                    throw ToBackend(e);
                }
                TokenChunk chunk = tokens.Current;
                yield return new GeneratedToken { TokenId = chunk.TokenId, Text = chunk.Text };
            }
        }
    }

    static Exception ToBackend(MoeRequestException e)
    {
        string message = e.Message.StartsWith($"{e.Code}: ", StringComparison.Ordinal) ? e.Message[(e.Code.ToString().Length + 2)..] : e.Message;
        return e.Code switch
        {
            MoeErrorCode.InvalidRequest when message.Contains("the model allows fewer than", StringComparison.Ordinal) =>
                new BackendException(BackendErrorKind.PromptTooLong, message, inner: e),
            MoeErrorCode.InvalidRequest => new BackendException(BackendErrorKind.InvalidRequest, message, inner: e),
            MoeErrorCode.UnknownModel => new BackendException(BackendErrorKind.UnknownModel, message, inner: e),
            MoeErrorCode.AdmissionRejected => new BackendException(BackendErrorKind.Overloaded, message, TimeSpan.FromSeconds(1), e),
            MoeErrorCode.ShuttingDown => new BackendException(BackendErrorKind.Unavailable, message, inner: e),
            MoeErrorCode.DeadlineExceeded => new BackendException(BackendErrorKind.Timeout, message, inner: e),
            MoeErrorCode.Cancelled => new OperationCanceledException(message, e),
            _ => new BackendException(BackendErrorKind.Failed, message, inner: e),
        };
    }
}
