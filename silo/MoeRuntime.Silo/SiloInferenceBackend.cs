using System.Runtime.CompilerServices;
using MoeRuntime.FrontDoor;
using MoeRuntime.Grains;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Chat;

namespace MoeRuntime.Silo;

/// <summary>
/// The front door's backend on a silo: the model this rank serves, its tokenizer (a prompt is tokenized here once and
/// its ids go to the router, which checks them as it checks any prompt), its chat template, and the rank's router grain
/// for generation, so a front-door request takes the path every client request takes. Stop strings go to the router,
/// which ends the sequence at one as a success.
/// </summary>
sealed class SiloInferenceBackend(IGrainFactory grains, ModelHost host, RankTelemetry telemetry) : IInferenceBackend
{
    public bool SupportsLogprobs => true;

    public bool MatchesStopStrings => true;

    /// <summary>Counted as <c>moe_admission_rejects_total{route="stream",reason="over_limit"}</c>: the front door streams from the router.</summary>
    public void TenantOverLimit() => telemetry.AdmissionRejected("stream", "over_limit");

    public ValueTask<IReadOnlyList<ServedModel>> ListModelsAsync(CancellationToken cancellationToken) =>
        new([new ServedModel(host.ModelName, host.Config.MaxSequenceLength)]);

    public ValueTask<int[]> EncodePromptAsync(string model, string prompt, bool chat, CancellationToken cancellationToken) =>
        new([.. host.Tokenizer.Encode(prompt, addBeginOfSequence: !chat)]);

    /// <summary>
    /// The checkpoint's chat template applied to <paramref name="messages"/> with the generation prompt. An error the
    /// template raises itself (Mixtral's "roles must alternate") is the client's: a 400 with the template's words.
    /// </summary>
    public ValueTask<string> RenderChatAsync(string model, IReadOnlyList<ChatTurn> messages, CancellationToken cancellationToken)
    {
        var turns = new ChatMessage[messages.Count];
        for (int i = 0; i < turns.Length; i++) turns[i] = new ChatMessage(messages[i].Role, messages[i].Content);
        try
        {
            return new(host.ChatTemplate.Render(turns, addGenerationPrompt: true));
        }
        catch (ChatTemplateException e)
        {
            throw new BackendException(BackendErrorKind.InvalidRequest, e.Message, inner: e);
        }
    }

    public async IAsyncEnumerable<GeneratedToken> GenerateAsync(GenerationCall call, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new GenerateRequest
        {
            // The ids the front door counted, so the router does not tokenize the prompt again.
            Prompt = call.PromptTokenIds is { Length: > 0 } ? "" : call.Prompt,
            PromptTokenIds = call.PromptTokenIds is { Length: > 0 } ids ? ids : null,
            StopStrings = call.Stops.Count > 0 ? [.. call.Stops] : null,
            Tenant = call.Tenant,
            RequestId = call.RequestId,
            SkipBeginOfSequence = call.Chat,
            TopLogprobs = call.Logprobs ? call.TopLogprobs : null,
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
                if (chunk.IsHeartbeat) continue;
                yield return new GeneratedToken
                {
                    TokenId = chunk.TokenId,
                    Text = chunk.Text,
                    FinishReason = chunk.FinishReason,
                    IsTrailer = chunk.IsTrailer,
                    Logprob = chunk.Logprob,
                    TopLogprobs = chunk.TopLogprobs is { } top ? Alternatives(top) : null,
                };
            }
        }
    }

    /// <summary>Each alternative with its token's text, as OpenAI's top_logprobs spell them.</summary>
    TokenAlternative[] Alternatives(TokenLogprob[] top)
    {
        var alternatives = new TokenAlternative[top.Length];
        for (int i = 0; i < top.Length; i++) alternatives[i] = new TokenAlternative(host.Tokenizer.Decode([top[i].TokenId]), top[i].Logprob);
        return alternatives;
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
