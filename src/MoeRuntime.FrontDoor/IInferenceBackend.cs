namespace MoeRuntime.FrontDoor;

/// <summary>
/// What the front door needs from whatever generates tokens: the silo implements it over its router grain, tests with
/// a fake. Failures a client can act on are thrown as <see cref="BackendException"/>.
/// </summary>
public interface IInferenceBackend
{
    /// <summary>The models served, with their context lengths.</summary>
    ValueTask<IReadOnlyList<ServedModel>> ListModelsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// <paramref name="prompt"/> as <paramref name="model"/>'s tokens: the front door counts them (usage, the context limit,
    /// a tenant's token budget) and hands them back in <see cref="GenerationCall.PromptTokenIds"/>, so a prompt is
    /// tokenized once.
    /// </summary>
    /// <param name="chat">The prompt is a rendered chat template, tokenized as <see cref="GenerationCall.Chat"/> says.</param>
    ValueTask<int[]> EncodePromptAsync(string model, string prompt, bool chat, CancellationToken cancellationToken);

    /// <summary>The prompt that asks <paramref name="model"/> to answer <paramref name="messages"/> (its chat template).</summary>
    ValueTask<string> RenderChatAsync(string model, IReadOnlyList<ChatTurn> messages, CancellationToken cancellationToken);

    /// <summary>Whether <see cref="GenerateAsync"/> fills <see cref="GeneratedToken.Logprob"/>; requests for logprobs are refused otherwise.</summary>
    bool SupportsLogprobs { get; }

    /// <summary>
    /// Whether <see cref="GenerateAsync"/> applies <see cref="GenerationCall.Stops"/> itself: its text never holds a stop
    /// string, and it ends the generation at one with finish reason <c>stop</c>. Otherwise the front door matches them on
    /// the text it receives and cancels the generation at one.
    /// </summary>
    bool MatchesStopStrings { get; }

    /// <summary>
    /// The tokens of one generation, as they are sampled. Cancelling <paramref name="cancellationToken"/> (the client went
    /// away) must end the generation in the backend.
    /// </summary>
    IAsyncEnumerable<GeneratedToken> GenerateAsync(GenerationCall call, CancellationToken cancellationToken);

    /// <summary>
    /// The front door refused a request because its tenant is over a limit (requests or tokens per minute, concurrent
    /// streams), before any generation: for the backend's telemetry. Does nothing unless the backend counts it.
    /// </summary>
    void TenantOverLimit()
    {
    }
}

/// <summary>One served model.</summary>
public sealed record ServedModel(string Id, int ContextLength);

/// <summary>One chat message, its content flattened to text.</summary>
public sealed record ChatTurn(string Role, string Content);

/// <summary>One generation the front door asks for.</summary>
public sealed record GenerationCall
{
    public required string Model { get; init; }
    public required string Prompt { get; init; }
    /// <summary>The prompt as <see cref="IInferenceBackend.EncodePromptAsync"/> returned it, when the front door has it.</summary>
    public int[]? PromptTokenIds { get; init; }
    /// <summary>The tenant the API key belongs to.</summary>
    public required string Tenant { get; init; }
    public required string RequestId { get; init; }
    /// <summary>
    /// The prompt is a rendered chat template. It is tokenized without an added beginning-of-sequence token, as
    /// transformers' <c>apply_chat_template</c> and vLLM's chat endpoint do: a template writes the special tokens it
    /// wants (Mixtral's and OLMoE's start with <c>bos_token</c>, ChatML's have none). A completion prompt gets the
    /// tokenizer's usual beginning-of-sequence token.
    /// </summary>
    public bool Chat { get; init; }
    public int MaxTokens { get; init; }
    public double Temperature { get; init; } = 1.0;
    public double TopP { get; init; } = 1.0;
    /// <summary>0 keeps every token.</summary>
    public int TopK { get; init; }
    public ulong? Seed { get; init; }
    /// <summary>Alternatives wanted per token (0 when only the sampled token's logprob, or none, is wanted).</summary>
    public int TopLogprobs { get; init; }
    public bool Logprobs { get; init; }
    /// <summary>Generate past end-of-sequence tokens, up to <see cref="MaxTokens"/> (benchmarks want equal lengths).</summary>
    public bool IgnoreEos { get; init; }
    /// <summary>The request's stop strings (none empty), for a backend that <see cref="IInferenceBackend.MatchesStopStrings"/>.</summary>
    public IReadOnlyList<string> Stops { get; init; } = [];
}

/// <summary>
/// One sampled token: its id, the text it completes (empty while a character is incomplete), and when asked its
/// log-probability with the most likely alternatives. A backend that knows why generation ended says so on the last token.
/// </summary>
public sealed record GeneratedToken
{
    public int TokenId { get; init; }
    public string Text { get; init; } = "";
    public float? Logprob { get; init; }
    public IReadOnlyList<TokenAlternative>? TopLogprobs { get; init; }
    /// <summary><c>stop</c> or <c>length</c> on the last token, when the backend knows; otherwise the front door infers it.</summary>
    public string? FinishReason { get; init; }
    /// <summary>
    /// No token, only text and the finish reason: the text a backend matching stop strings held back (it could have
    /// begun one) when generation ended on an end-of-sequence token. Not counted as a completion token.
    /// </summary>
    public bool IsTrailer { get; init; }
}

/// <summary>A token the model considered, with its log-probability.</summary>
public sealed record TokenAlternative(string Token, float Logprob);
