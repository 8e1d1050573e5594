using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Generation;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The largest Orleans message body a rank accepts (<c>SiloMessagingOptions.MaxMessageBodySize</c>), from what its payloads
/// can need instead of Orleans' 100 MB default, so one message cannot make a rank buffer more than the model and the
/// limits call for. See docs/batcher.md.
/// </summary>
public static class MessageSizeLimit
{
    /// <summary>The least limit: telemetry summaries, aggregator views and control records are sized by the cluster, not the model.</summary>
    public const int Floor = 16 << 20;
    /// <summary>Room per generated token for its text in a response (a byte-level token's text is rarely longer).</summary>
    public const int TextBytesPerToken = 64;
    /// <summary>The most alternatives per token a request may ask log-probabilities for (the batcher's own bound).</summary>
    public const int MaxTopLogprobs = 100;

    /// <summary>
    /// The largest of: an expert call or its answer (every new token of a step routed to one expert: max batch tokens ×
    /// hidden size × 4 bytes; with <see cref="MoeSiloOptions.ExpertCallsPerRank"/> a call to a rank, which can carry every
    /// token once per expert it chose: times the experts per token), a request (the prompt's characters as UTF-8, at most 3 bytes each, or its token ids, and
    /// its stop tokens and stop strings) and a response (per token its id, text, log-probabilities with alternatives,
    /// logits when capture is allowed, and the prompt's token ids); plus a quarter for framing, and never under
    /// <see cref="Floor"/>.
    /// </summary>
    public static int For(ModelConfig model, MoeSiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        RequestLimits limits = options.Limits;
        long rowsPerCall = (long)options.MaxBatchTokens * (options.ExpertCallsPerRank ? model.ExpertsPerToken : 1);
        long expertCall = rowsPerCall * model.HiddenSize * sizeof(float);
        long request = Math.Max(3L * limits.MaxPromptCharacters, (long)model.MaxSequenceLength * sizeof(int))
            + (long)limits.MaxStopTokens * sizeof(int) + 3L * limits.MaxStopStrings * limits.MaxStopStringCharacters;
        long perToken = sizeof(int) + TextBytesPerToken + sizeof(float) + MaxTopLogprobs * (sizeof(int) + sizeof(float));
        long logits = limits.AllowLogitsCapture ? (long)limits.MaxLogitsCaptureTokens * model.VocabularySize * sizeof(float) : 0;
        long response = limits.MaxTokens * perToken + logits + (long)model.MaxSequenceLength * sizeof(int);
        long needed = Math.Max(expertCall, Math.Max(request, response));
        return (int)Math.Clamp(needed + needed / 4, Floor, int.MaxValue);
    }
}
