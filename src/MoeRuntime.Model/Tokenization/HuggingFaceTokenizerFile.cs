using System.Text.Json;
using System.Text.RegularExpressions;

namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// Parses a Hugging Face tokenizer.json into a <see cref="HuggingFaceBpeDefinition"/>, accepting only
/// what the runtime reproduces faithfully: byte-level BPE as GPT-2, Qwen and OLMoE ship it.
/// </summary>
internal static class HuggingFaceTokenizerFile
{
    // GPT-2's word split, which a ByteLevel pre-tokenizer with use_regex applies.
    private const string Gpt2WordPattern =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <param name="regexTimeout">How long the pre-tokenizer's regex may run on one match; no limit when null.</param>
    public static HuggingFaceBpeDefinition Read(string path, TimeSpan? regexTimeout = null)
    {
        using JsonDocument document = JsonFiles.Parse(path);
        try
        {
            return Read(document.RootElement, path, regexTimeout ?? Regex.InfiniteMatchTimeout);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            // JsonElement accessors throw these when a value has the wrong JSON kind.
            throw new TokenizerFormatException(path, $"unexpected structure ({e.Message})", e);
        }
    }

    private static HuggingFaceBpeDefinition Read(JsonElement root, string path, TimeSpan regexTimeout)
    {
        JsonElement model = root.Find("model") ?? throw Unsupported(path, "has no \"model\" section");
        string? type = model.Find("type")?.GetString();
        if (type != "BPE")
            throw Unsupported(path, $"model.type \"{type}\" is not supported; only byte-level \"BPE\" is");
        if (model.Find("byte_fallback")?.GetBoolean() == true)
            throw Unsupported(path,
                "model.byte_fallback (SentencePiece-style BPE as Llama/Mixtral ship it) is not supported from tokenizer.json; only byte-level BPE is");
        RejectIfSet(model, "continuing_subword_prefix", path);
        RejectIfSet(model, "end_of_word_suffix", path);
        if (model.Find("dropout") is { } dropout && dropout.GetDouble() != 0)
            throw Unsupported(path, "model.dropout is not supported");

        RequireByteLevelDecoder(root, path);
        return new HuggingFaceBpeDefinition(
            ReadVocabulary(model, path),
            ReadMerges(model, path),
            ReadAddedTokens(root),
            ReadWordSplitter(root, path, regexTimeout),
            ReadNormalizeToNfc(root, path),
            model.Find("unk_token")?.GetString());
    }

    private static Dictionary<string, int> ReadVocabulary(JsonElement model, string path)
    {
        JsonElement vocab = model.Find("vocab") ?? throw Unsupported(path, "model.vocab is missing");
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (JsonProperty entry in vocab.EnumerateObject())
            vocabulary[entry.Name] = entry.Value.GetInt32();
        return vocabulary;
    }

    private static List<string> ReadMerges(JsonElement model, string path)
    {
        JsonElement merges = model.Find("merges") ?? throw Unsupported(path, "model.merges is missing");
        var pairs = new List<string>(merges.GetArrayLength());
        foreach (JsonElement merge in merges.EnumerateArray())
        {
            // Older files write "a b"; newer ones write ["a", "b"].
            pairs.Add(merge.ValueKind == JsonValueKind.Array
                ? $"{merge[0].GetString()} {merge[1].GetString()}"
                : merge.GetString() ?? throw Unsupported(path, "model.merges holds a null entry"));
        }
        return pairs;
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root)
    {
        var added = new List<AddedToken>();
        if (root.Find("added_tokens") is not { } tokens)
            return added;
        foreach (JsonElement token in tokens.EnumerateArray())
        {
            added.Add(new AddedToken(
                token.GetProperty("id").GetInt32(),
                token.GetProperty("content").GetString()!,
                token.Find("special")?.GetBoolean() ?? false));
        }
        return added;
    }

    private static Regex ReadWordSplitter(JsonElement root, string path, TimeSpan timeout)
    {
        JsonElement preTokenizer = root.Find("pre_tokenizer")
            ?? throw Unsupported(path, "has no pre_tokenizer; only byte-level BPE (a ByteLevel pre-tokenizer) is supported");
        string? type = preTokenizer.Find("type")?.GetString();
        if (type == "ByteLevel")
        {
            RequireNoPrefixSpace(preTokenizer, path);
            if (preTokenizer.Find("use_regex")?.GetBoolean() == false)
                throw Unsupported(path, "pre_tokenizer ByteLevel with use_regex=false and no Split is not supported");
            return Compile(Gpt2WordPattern, path, timeout);
        }
        if (type == "Sequence"
            && preTokenizer.Find("pretokenizers") is { ValueKind: JsonValueKind.Array } steps
            && steps.GetArrayLength() == 2
            && steps[0].Find("type")?.GetString() == "Split"
            && steps[1].Find("type")?.GetString() == "ByteLevel")
        {
            // Qwen-style: a custom regex split followed by the byte mapping alone.
            JsonElement split = steps[0];
            string? pattern = split.Find("pattern")?.Find("Regex")?.GetString();
            if (pattern is null || split.Find("behavior")?.GetString() != "Isolated" || split.Find("invert")?.GetBoolean() == true)
                throw Unsupported(path, "pre_tokenizer Split must be a non-inverted \"Isolated\" Regex split");
            RequireNoPrefixSpace(steps[1], path);
            return Compile(pattern, path, timeout);
        }
        throw Unsupported(path,
            $"pre_tokenizer \"{type}\" is not supported; expected ByteLevel or Sequence[Split(Regex), ByteLevel]");
    }

    private static bool ReadNormalizeToNfc(JsonElement root, string path)
    {
        if (root.Find("normalizer") is not { } normalizer)
            return false;
        string? type = normalizer.Find("type")?.GetString();
        return type == "NFC" ? true : throw Unsupported(path, $"normalizer \"{type}\" is not supported; only NFC or none");
    }

    private static void RequireByteLevelDecoder(JsonElement root, string path)
    {
        string? type = root.Find("decoder")?.Find("type")?.GetString();
        if (type is not (null or "ByteLevel"))
            throw Unsupported(path, $"decoder \"{type}\" is not supported; only ByteLevel");
    }

    private static void RequireNoPrefixSpace(JsonElement byteLevel, string path)
    {
        if (byteLevel.Find("add_prefix_space")?.GetBoolean() == true)
            throw Unsupported(path, "pre_tokenizer ByteLevel add_prefix_space=true is not supported");
    }

    private static void RejectIfSet(JsonElement model, string property, string path)
    {
        if (!string.IsNullOrEmpty(model.Find(property)?.GetString()))
            throw Unsupported(path, $"model.{property} is not supported by byte-level BPE");
    }

    private static Regex Compile(string pattern, string path, TimeSpan timeout)
    {
        try
        {
            return new Regex(pattern, RegexOptions.Compiled | RegexOptions.CultureInvariant, timeout);
        }
        catch (ArgumentException e)
        {
            throw new TokenizerFormatException(path, $"pre_tokenizer regex is not a valid .NET regex ({e.Message})", e);
        }
    }

    private static TokenizerFormatException Unsupported(string path, string problem) => new(path, problem);
}
