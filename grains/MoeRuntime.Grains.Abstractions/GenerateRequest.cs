namespace MoeRuntime.Grains;

/// <summary>One client request to a router grain.</summary>
[GenerateSerializer, Immutable, Alias("moe.GenerateRequest")]
public sealed record GenerateRequest
{
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
}
