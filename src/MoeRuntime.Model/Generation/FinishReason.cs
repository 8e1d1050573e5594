namespace MoeRuntime.Model.Generation;

/// <summary>Why a sequence stopped, in the words OpenAI-style APIs use.</summary>
public enum FinishReason
{
    /// <summary>A stop token was produced (it is not part of the output).</summary>
    Stop,
    /// <summary>The request's max_tokens was reached.</summary>
    Length,
}
