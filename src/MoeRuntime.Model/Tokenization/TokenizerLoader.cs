using System.Text.Json;

namespace MoeRuntime.Model.Tokenization;

/// <summary>Picks and loads the tokenizer a checkpoint directory describes.</summary>
public static class TokenizerLoader
{
    private const string ByteLevelClassName = "ByteLevelTokenizer";

    /// <summary>
    /// Loads tokenizer.json (byte-level BPE) when present; otherwise the built-in
    /// <see cref="ByteLevelTokenizer"/> when config.json asks for it or names no tokenizer.
    /// </summary>
    /// <exception cref="TokenizerFormatException">A tokenizer file is malformed or unsupported.</exception>
    public static ITextTokenizer Load(string checkpointDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(checkpointDirectory);
        if (!Directory.Exists(checkpointDirectory))
            throw new DirectoryNotFoundException($"Checkpoint directory not found: {checkpointDirectory}");

        string tokenizerJson = Path.Combine(checkpointDirectory, "tokenizer.json");
        if (File.Exists(tokenizerJson))
            return HuggingFaceBpeTokenizer.Load(checkpointDirectory, tokenizerJson);

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
