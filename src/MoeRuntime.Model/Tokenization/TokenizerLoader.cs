using System.Text.Json;

namespace MoeRuntime.Model.Tokenization;

/// <summary>Picks and loads the tokenizer a checkpoint directory describes.</summary>
public static class TokenizerLoader
{
    private const string ByteLevelClassName = "ByteLevelTokenizer";

    /// <summary>
    /// Loads the tokenizer (see <see cref="Load(string, TimeSpan?)"/>) and checks it against the model it serves: a tokenizer
    /// that can produce ids the model has no embedding for, or special ids outside the model's vocabulary, is refused
    /// at load. A model vocabulary larger than the tokenizer's (padded embeddings) is allowed: ids past the tokenizer
    /// decode to no text.
    /// </summary>
    /// <exception cref="TokenizerFormatException">The tokenizer does not fit the model.</exception>
    /// <param name="regexTimeout">How long a tokenizer.json's pre-tokenisation regex may run on one match; no limit when null.</param>
    public static ITextTokenizer Load(string checkpointDirectory, Configuration.ModelConfig model, TimeSpan? regexTimeout = null)
    {
        ITextTokenizer tokenizer = Load(checkpointDirectory, regexTimeout);
        string where = Path.Combine(checkpointDirectory, File.Exists(Path.Combine(checkpointDirectory, "tokenizer.json")) ? "tokenizer.json" : "config.json");
        if (tokenizer.VocabularySize > model.VocabularySize)
            throw new TokenizerFormatException(where,
                $"the tokenizer has {tokenizer.VocabularySize} ids but the model's vocab_size is {model.VocabularySize}; ids past it have no embedding");
        foreach (int id in tokenizer.EndOfSequenceIds.Concat(tokenizer.BeginOfSequenceId is { } bos ? [bos] : []))
            if (id >= model.VocabularySize)
                throw new TokenizerFormatException(where, $"special token id {id} lies outside the model's vocab_size {model.VocabularySize}");
        // config.json's eos_token_id as the architecture reads it (Mixtral's absent field means 2) also ends generation,
        // as transformers' generation config derived from the model config does.
        int[] missing = model.EndOfSequenceTokenIds.Where(id => !tokenizer.EndOfSequenceIds.Contains(id)).ToArray();
        return missing.Length == 0 ? tokenizer : new WithEndOfSequence(tokenizer, [.. tokenizer.EndOfSequenceIds, .. missing]);
    }

    private sealed class WithEndOfSequence(ITextTokenizer inner, IReadOnlyList<int> endOfSequence) : ITextTokenizer
    {
        public int VocabularySize => inner.VocabularySize;
        public int? BeginOfSequenceId => inner.BeginOfSequenceId;
        public IReadOnlyList<int> EndOfSequenceIds => endOfSequence;
        public IReadOnlyList<int> Encode(string text, bool addBeginOfSequence = true) => inner.Encode(text, addBeginOfSequence);
        public string Decode(IEnumerable<int> ids) => inner.Decode(ids);
        public IStreamingDecoder CreateStreamingDecoder() => inner.CreateStreamingDecoder();
    }

    /// <summary>
    /// Loads tokenizer.json (byte-level BPE) when present; otherwise the built-in
    /// <see cref="ByteLevelTokenizer"/> when config.json asks for it or names no tokenizer.
    /// </summary>
    /// <exception cref="TokenizerFormatException">A tokenizer file is malformed or unsupported.</exception>
    /// <param name="regexTimeout">How long a tokenizer.json's pre-tokenisation regex may run on one match (a longer match
    /// throws <see cref="System.Text.RegularExpressions.RegexMatchTimeoutException"/> from Encode); no limit when null.</param>
    public static ITextTokenizer Load(string checkpointDirectory, TimeSpan? regexTimeout = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointDirectory);
        if (!Directory.Exists(checkpointDirectory))
            throw new DirectoryNotFoundException($"Checkpoint directory not found: {checkpointDirectory}");

        string tokenizerJson = Path.Combine(checkpointDirectory, "tokenizer.json");
        if (File.Exists(tokenizerJson))
            return HuggingFaceBpeTokenizer.Load(checkpointDirectory, tokenizerJson, regexTimeout);

        string sentencePieceModel = Path.Combine(checkpointDirectory, "tokenizer.model");
        if (File.Exists(sentencePieceModel))
            throw new TokenizerFormatException(sentencePieceModel,
                "SentencePiece tokenizer.model files are not supported yet; provide a byte-level BPE tokenizer.json");

        string configPath = Path.Combine(checkpointDirectory, "config.json");
        using JsonDocument? config = JsonFiles.TryParse(configPath);
        string? tokenizerClass = config?.RootElement.Find("tokenizer_class")?.GetString();
        // A checkpoint naming some other tokenizer but shipping no files is broken; guessing bytes would emit garbage.
        if (tokenizerClass is not (null or ByteLevelClassName))
            throw new TokenizerFormatException(configPath,
                $"tokenizer_class \"{tokenizerClass}\" needs a tokenizer.json, but the directory has none");
        return new ByteLevelTokenizer();
    }
}
