namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// Decodes one request's generated ids as they arrive. A character whose UTF-8 bytes span several
/// tokens is held back until its last byte arrives, so callers never see half a character.
/// </summary>
public interface IStreamingDecoder
{
    /// <summary>Feeds one id and returns only the text it completed (often empty).</summary>
    string Append(int id);

    /// <summary>
    /// Ends the stream: returns any held-back bytes (a character left incomplete becomes U+FFFD)
    /// and leaves the decoder ready for a new stream.
    /// </summary>
    string Flush();
}
