using System.Text;

namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// The built-in model's tokenizer: ids 0..255 are the bytes of the UTF-8 text, followed by three
/// special tokens. Needs no files, so any text round-trips exactly.
/// </summary>
public sealed class ByteLevelTokenizer : ITextTokenizer
{
    /// <summary>The &lt;bos&gt; id.</summary>
    public const int BeginOfSequenceTokenId = 256;

    /// <summary>The &lt;eos&gt; id.</summary>
    public const int EndOfSequenceTokenId = 257;

    /// <summary>The &lt;pad&gt; id.</summary>
    public const int PaddingTokenId = 258;

    /// <summary>Number of ids: 256 bytes plus the three special tokens.</summary>
    public const int TokenCount = 259;

    private static readonly TokenByteTable Tokens = BuildTable();
    private static readonly int[] StopIds = [EndOfSequenceTokenId];

    /// <inheritdoc />
    public int VocabularySize => TokenCount;

    /// <inheritdoc />
    public int? BeginOfSequenceId => BeginOfSequenceTokenId;

    /// <inheritdoc />
    public IReadOnlyList<int> EndOfSequenceIds => StopIds;

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addBeginOfSequence = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        int offset = addBeginOfSequence ? 1 : 0;
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var ids = new int[utf8.Length + offset];
        if (addBeginOfSequence)
            ids[0] = BeginOfSequenceTokenId;
        for (int i = 0; i < utf8.Length; i++)
            ids[i + offset] = utf8[i];
        return ids;
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids) => Tokens.Decode(ids);

    /// <inheritdoc />
    public IStreamingDecoder CreateStreamingDecoder() => Tokens.CreateStreamingDecoder();

    private static TokenByteTable BuildTable()
    {
        var bytesById = new byte[TokenCount][];
        for (int b = 0; b < 256; b++)
            bytesById[b] = [(byte)b];
        for (int id = 256; id < TokenCount; id++)
            bytesById[id] = [];
        return new TokenByteTable(bytesById);
    }
}
