namespace MoeRuntime.Model.Tokenization;

/// <summary>Turns prompt text into model token ids and generated ids back into text.</summary>
public interface ITextTokenizer
{
    /// <summary>One past the largest id this tokenizer can produce or decode.</summary>
    int VocabularySize { get; }

    /// <summary>The id <see cref="Encode"/> prepends when asked to, or null when the model takes no such marker.</summary>
    int? BeginOfSequenceId { get; }

    /// <summary>Ids that end generation by default.</summary>
    IReadOnlyList<int> EndOfSequenceIds { get; }

    /// <summary>Encodes <paramref name="text"/>; special-token text inside it maps to the special ids.</summary>
    IReadOnlyList<int> Encode(string text, bool addBeginOfSequence = true);

    /// <summary>Decodes <paramref name="ids"/> to text, leaving out special tokens.</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>Starts an incremental decoder for one generation stream; it is not thread-safe.</summary>
    IStreamingDecoder CreateStreamingDecoder();
}
