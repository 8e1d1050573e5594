namespace MoeRuntime.Grains;

/// <summary>One client request to a router grain.</summary>
[GenerateSerializer, Immutable, Alias("moe.GenerateRequest")]
public sealed record GenerateRequest
{
    /// <summary>The prompt as text; empty when <see cref="PromptTokenIds"/> gives it already tokenized.</summary>
    [Id(0)] public required string Prompt { get; init; }
    [Id(1)] public SamplingParameters Sampling { get; init; } = new();
    /// <summary>Who the request is for; used for accounting, never logged in clear.</summary>
    [Id(2)] public string Tenant { get; init; } = "default";
    /// <summary>The caller's id for the request; the router makes one when empty.</summary>
    [Id(3)] public string RequestId { get; init; } = "";
    /// <summary>After this instant the request ends with <see cref="MoeErrorCode.DeadlineExceeded"/>.</summary>
    [Id(4)] public DateTimeOffset? Deadline { get; init; }
    /// <summary>Return each step's logits (for comparisons with the reference; costs bandwidth).</summary>
    [Id(5)] public bool IncludeLogits { get; init; }
    /// <summary>Tokenize the prompt without the beginning-of-sequence token the checkpoint would add.</summary>
    [Id(6)] public bool SkipBeginOfSequence { get; init; }
    /// <summary>
    /// Report each token's log-probability (log-softmax of the raw logits) and this many most likely alternatives
    /// (0: only the sampled token's); null reports none. At most 100.
    /// </summary>
    [Id(7)] public int? TopLogprobs { get; init; }
    /// <summary>Return the prompt's token ids with the first chunk (<see cref="TokenChunk.PromptTokenIds"/>).</summary>
    [Id(8)] public bool IncludePromptTokenIds { get; init; }
    /// <summary>
    /// Resumes a request another rank was serving when it was lost or stopped: the tokens already delivered to the
    /// client, in order. The router runs the prompt plus these tokens, continues at the next position (the same seed
    /// samples the same tokens there), counts them against <see cref="SamplingParameters.MaxTokens"/>, and numbers the
    /// chunks it streams from their count on. Send the same <see cref="RequestId"/> and sampling (with the seed) as the
    /// interrupted attempt. Null or empty starts the request afresh.
    /// </summary>
    [Id(9)] public int[]? ResumeTokenIds { get; init; }
    /// <summary>Why the request is resumed (<see cref="ResumeReasons"/>), for telemetry; ignored unless <see cref="ResumeTokenIds"/> is set.</summary>
    [Id(10)] public string? ResumeReason { get; init; }
    /// <summary>
    /// When set, a stream yields a heartbeat chunk (<see cref="TokenChunk.IsHeartbeat"/>) whenever no token came for this
    /// long, so a client can tell a slow rank from a lost one within a few seconds. Between 100 ms and 1 minute.
    /// </summary>
    [Id(11)] public TimeSpan? HeartbeatInterval { get; init; }
    /// <summary>
    /// Generation ends when the decoded text reaches one of these strings (matched across token boundaries): the
    /// sequence finishes as a success with finish reason <c>stop</c> at the token that completes it, and the stop string
    /// and anything after it are never sent (a chunk's <see cref="TokenChunk.Text"/> holds back text that could begin
    /// one until it is known not to). At most <c>Moe:Limits:MaxStopStrings</c> strings, none empty, each at most
    /// <c>Moe:Limits:MaxStopStringCharacters</c> long.
    /// </summary>
    [Id(12)] public string[]? StopStrings { get; init; }
    /// <summary>
    /// The prompt already tokenized by this cluster's tokenizer (as the front door does once, for its own limits and
    /// usage), instead of <see cref="Prompt"/>, which must then be empty; <see cref="SkipBeginOfSequence"/> does not
    /// apply. The router checks the ids as it checks any prompt (the vocabulary, the context).
    /// </summary>
    [Id(13)] public int[]? PromptTokenIds { get; init; }

    /// <summary>The bounds of <see cref="HeartbeatInterval"/>.</summary>
    public static readonly TimeSpan MinHeartbeatInterval = TimeSpan.FromMilliseconds(100), MaxHeartbeatInterval = TimeSpan.FromMinutes(1);
}

/// <summary>The reasons a client gives for resuming a request (<see cref="GenerateRequest.ResumeReason"/>).</summary>
public static class ResumeReasons
{
    /// <summary>The rank serving the stream went away (connection lost, silo unavailable, or no heartbeat in time).</summary>
    public const string RankLost = "rank_lost";
    /// <summary>The rank serving the stream was stopping and ended it with <see cref="MoeErrorCode.ShuttingDown"/>.</summary>
    public const string ShuttingDown = "shutting_down";
    /// <summary>Any other reason.</summary>
    public const string Other = "other";

    /// <summary>The known reason, or <see cref="Other"/>, so that a client cannot grow the metric's label set.</summary>
    public static string Normalize(string? reason) => reason switch
    {
        RankLost => RankLost,
        ShuttingDown => ShuttingDown,
        _ => Other,
    };
}
