using System.Text;
using Microsoft.ML.Tokenizers;

namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// A byte-level BPE tokenizer from a Hugging Face tokenizer.json. Microsoft.ML.Tokenizers does the
/// encoding; decoding goes through <see cref="TokenByteTable"/> so streaming and special-token
/// skipping work the same as for <see cref="ByteLevelTokenizer"/>.
/// </summary>
internal sealed class HuggingFaceBpeTokenizer : ITextTokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly TokenByteTable _tokens;
    private readonly bool _normalizeToNfc;

    private HuggingFaceBpeTokenizer(BpeTokenizer bpe, TokenByteTable tokens, bool normalizeToNfc, SequenceMarkers markers)
    {
        _bpe = bpe;
        _tokens = tokens;
        _normalizeToNfc = normalizeToNfc;
        BeginOfSequenceId = markers.BeginOfSequenceId;
        EndOfSequenceIds = markers.EndOfSequenceIds;
    }

    public int VocabularySize => _tokens.Count;

    public int? BeginOfSequenceId { get; }

    public IReadOnlyList<int> EndOfSequenceIds { get; }

    /// <summary>Builds the tokenizer from tokenizer.json plus the BOS/EOS settings beside it.</summary>
    /// <param name="regexTimeout">How long pre-tokenisation's regex may run on one match (a longer match throws
    /// <see cref="System.Text.RegularExpressions.RegexMatchTimeoutException"/> from <see cref="Encode"/>); no limit when null.</param>
    public static HuggingFaceBpeTokenizer Load(string checkpointDirectory, string tokenizerJsonPath, TimeSpan? regexTimeout = null)
    {
        HuggingFaceBpeDefinition definition = HuggingFaceTokenizerFile.Read(tokenizerJsonPath, regexTimeout);
        Dictionary<string, int> addedIds = definition.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        SequenceMarkers markers = SequenceMarkers.Read(checkpointDirectory, token =>
            addedIds.TryGetValue(token, out int id) || definition.Vocabulary.TryGetValue(token, out id) ? id : null);
        return new HuggingFaceBpeTokenizer(
            CreateBpe(definition, addedIds, tokenizerJsonPath),
            BuildByteTable(definition, tokenizerJsonPath),
            definition.NormalizeToNfc,
            markers);
    }

    public IReadOnlyList<int> Encode(string text, bool addBeginOfSequence = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (_normalizeToNfc)
            text = text.Normalize(NormalizationForm.FormC);
        IReadOnlyList<int> ids = _bpe.EncodeToIds(text);
        if (!addBeginOfSequence || BeginOfSequenceId is not int bos)
            return ids;
        var withBos = new int[ids.Count + 1];
        withBos[0] = bos;
        for (int i = 0; i < ids.Count; i++)
            withBos[i + 1] = ids[i];
        return withBos;
    }

    public string Decode(IEnumerable<int> ids) => _tokens.Decode(ids);

    public IStreamingDecoder CreateStreamingDecoder() => _tokens.CreateStreamingDecoder();

    private static BpeTokenizer CreateBpe(HuggingFaceBpeDefinition definition, Dictionary<string, int> addedIds, string path)
    {
        try
        {
            return BpeTokenizer.Create(new BpeOptions(definition.Vocabulary)
            {
                Merges = definition.Merges,
                ByteLevel = true,
                // Added tokens must reach both: the pre-tokenizer keeps them whole, the model maps them.
                SpecialTokens = addedIds,
                PreTokenizer = new RegexPreTokenizer(definition.WordSplitter, addedIds),
                UnknownToken = definition.UnknownToken,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or KeyNotFoundException)
        {
            throw new TokenizerFormatException(path, $"Microsoft.ML.Tokenizers rejected the BPE model ({e.Message})", e);
        }
    }

    private static TokenByteTable BuildByteTable(HuggingFaceBpeDefinition definition, string path)
    {
        int size = 1 + Math.Max(
            definition.Vocabulary.Count == 0 ? -1 : definition.Vocabulary.Values.Max(),
            definition.AddedTokens.Count == 0 ? -1 : definition.AddedTokens.Max(t => t.Id));
        var bytesById = new byte[size][];
        foreach ((string token, int id) in definition.Vocabulary)
        {
            if (id < 0)
                throw new TokenizerFormatException(path, $"model.vocab gives \"{token}\" the negative id {id}");
            bytesById[id] = ByteLevelAlphabet.TryGetBytes(token, out byte[] bytes)
                ? bytes
                : throw new TokenizerFormatException(path, $"model.vocab entry \"{token}\" is not in the byte-level alphabet; only byte-level BPE is supported");
        }
        // Added tokens override vocab entries with the same id; their text is literal, not byte-mapped.
        foreach (AddedToken added in definition.AddedTokens)
        {
            if (added.Id < 0)
                throw new TokenizerFormatException(path, $"added_tokens gives \"{added.Content}\" the negative id {added.Id}");
            bytesById[added.Id] = added.Special ? [] : Encoding.UTF8.GetBytes(added.Content);
        }
        // Unassigned ids decode to nothing rather than failing a generation mid-stream.
        for (int id = 0; id < size; id++)
            bytesById[id] ??= [];
        return new TokenByteTable(bytesById);
    }
}
