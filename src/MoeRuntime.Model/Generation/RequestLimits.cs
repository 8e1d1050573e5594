namespace MoeRuntime.Model.Generation;

/// <summary>
/// What one request may cost a rank, checked before it costs anything: the server's side of max tokens, the prompt's
/// length in characters before tokenising, logits capture (off unless allowed, and capped), stop-token lists, the
/// tokenizer's regex time, and the rank's KV-cache budget that admission reserves from.
/// </summary>
public sealed record RequestLimits
{
    /// <summary>The most tokens one request may ask to generate; a request asking for more is refused.</summary>
    public int MaxTokens { get; init; } = 4096;
    /// <summary>The longest prompt, in characters (UTF-16 code units), checked before tokenising.</summary>
    public int MaxPromptCharacters { get; init; } = 262_144;
    /// <summary>
    /// Bytes the running sequences' KV caches may hold together on this rank (see <see cref="BatcherOptions.KvCacheBudgetBytes"/>):
    /// a request that could never fit is refused, one that fits later waits.
    /// </summary>
    public long KvCacheBudgetBytes { get; init; } = 1L << 30;
    /// <summary>Whether requests may ask for every step's full logits (a vocabulary of floats per token). Off by default.</summary>
    public bool AllowLogitsCapture { get; init; }
    /// <summary>When logits capture is allowed, the most tokens a request capturing them may generate.</summary>
    public int MaxLogitsCaptureTokens { get; init; } = 256;
    /// <summary>The longest list of stop tokens a request may give.</summary>
    public int MaxStopTokens { get; init; } = 16;
    /// <summary>The most stop strings a request may give.</summary>
    public int MaxStopStrings { get; init; } = 16;
    /// <summary>The longest stop string, in characters (UTF-16 code units): it bounds the text held back per sequence.</summary>
    public int MaxStopStringCharacters { get; init; } = 256;
    /// <summary>How long the tokenizer's pre-tokenisation regex may run on one match before the prompt is refused.</summary>
    public TimeSpan TokenizerRegexTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first limit out of range.</summary>
    public void Validate()
    {
        if (MaxTokens < 1) throw new ArgumentException($"RequestLimits.MaxTokens must be at least 1, was {MaxTokens}", nameof(MaxTokens));
        if (MaxPromptCharacters < 1)
            throw new ArgumentException($"RequestLimits.MaxPromptCharacters must be at least 1, was {MaxPromptCharacters}", nameof(MaxPromptCharacters));
        if (KvCacheBudgetBytes < 1)
            throw new ArgumentException($"RequestLimits.KvCacheBudgetBytes must be at least 1, was {KvCacheBudgetBytes}", nameof(KvCacheBudgetBytes));
        if (MaxLogitsCaptureTokens < 1)
            throw new ArgumentException($"RequestLimits.MaxLogitsCaptureTokens must be at least 1, was {MaxLogitsCaptureTokens}", nameof(MaxLogitsCaptureTokens));
        if (MaxStopTokens < 0) throw new ArgumentException($"RequestLimits.MaxStopTokens must be at least 0, was {MaxStopTokens}", nameof(MaxStopTokens));
        if (MaxStopStrings < 0) throw new ArgumentException($"RequestLimits.MaxStopStrings must be at least 0, was {MaxStopStrings}", nameof(MaxStopStrings));
        if (MaxStopStringCharacters < 1)
            throw new ArgumentException($"RequestLimits.MaxStopStringCharacters must be at least 1, was {MaxStopStringCharacters}", nameof(MaxStopStringCharacters));
        if (TokenizerRegexTimeout <= TimeSpan.Zero || TokenizerRegexTimeout.TotalMilliseconds > int.MaxValue)
            throw new ArgumentException(
                $"RequestLimits.TokenizerRegexTimeout must be positive and at most {TimeSpan.FromMilliseconds(int.MaxValue)}, was {TokenizerRegexTimeout}",
                nameof(TokenizerRegexTimeout));
    }

    /// <summary>Refuses a prompt longer than <see cref="MaxPromptCharacters"/>, before it is tokenised.</summary>
    public void CheckPrompt(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (prompt.Length > MaxPromptCharacters)
            throw new ArgumentException($"the prompt has {prompt.Length} characters; this rank accepts at most {MaxPromptCharacters}");
    }

    /// <summary>Refuses what a request asks for beyond the limits: max tokens, stop tokens, logits capture.</summary>
    public void CheckGeneration(int maxTokens, int stopTokens, bool captureLogits)
    {
        if (maxTokens > MaxTokens) throw new ArgumentException($"max tokens is {maxTokens}; this rank generates at most {MaxTokens} per request");
        if (stopTokens > MaxStopTokens) throw new ArgumentException($"the request gives {stopTokens} stop tokens; this rank accepts at most {MaxStopTokens}");
        if (!captureLogits) return;
        if (!AllowLogitsCapture) throw new ArgumentException("logits capture is switched off on this rank");
        if (maxTokens > MaxLogitsCaptureTokens)
            throw new ArgumentException($"max tokens is {maxTokens}; a request capturing logits generates at most {MaxLogitsCaptureTokens}");
    }

    /// <summary>
    /// Refuses stop strings beyond the limits, and empty ones. The messages name the string by its position, never its
    /// text: it is the client's content and failure logs keep the message.
    /// </summary>
    public void CheckStopStrings(IReadOnlyList<string?>? stops)
    {
        if (stops is null) return;
        if (stops.Count > MaxStopStrings)
            throw new ArgumentException($"the request gives {stops.Count} stop strings; this rank accepts at most {MaxStopStrings}");
        for (int i = 0; i < stops.Count; i++)
        {
            if (string.IsNullOrEmpty(stops[i])) throw new ArgumentException($"stop string {i} is empty");
            if (stops[i]!.Length > MaxStopStringCharacters)
                throw new ArgumentException($"stop string {i} has {stops[i]!.Length} characters; this rank accepts at most {MaxStopStringCharacters}");
        }
    }
}
