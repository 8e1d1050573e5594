namespace MoeRuntime.Model.Generation;

/// <summary>
/// Decodes one sequence's tokens as the batcher accepts them and ends the sequence when its text reaches a stop string:
/// the batcher then finishes it with <see cref="FinishReason.Stop"/>, a success, at that very token. Called on the
/// batching loop, one token at a time, never concurrently; one instance per sequence.
/// </summary>
public interface ITextStopCondition
{
    /// <summary>
    /// Decodes <paramref name="tokenId"/> and returns the text the client may see now. When a stop string completed,
    /// <see cref="TextStep.Stopped"/> is true and the text is what came before it. <paramref name="last"/>: the sequence
    /// ends after this token anyway (max tokens, the context), so nothing may be held back.
    /// </summary>
    TextStep Append(int tokenId, bool last);

    /// <summary>The sequence ended on an end-of-sequence token (which has no text): returns the text still held back.</summary>
    string Finish();
}

/// <summary>What one token added to the visible text, and whether a stop string ended the sequence in it.</summary>
public readonly record struct TextStep(string Text, bool Stopped);
