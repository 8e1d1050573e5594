using System.Text.Json;

namespace MoeRuntime.Model.Tokenization;

/// <summary>
/// Begin- and end-of-sequence ids as a Hugging Face checkpoint declares them across
/// tokenizer_config.json, config.json and generation_config.json.
/// </summary>
internal sealed record SequenceMarkers(int? BeginOfSequenceId, IReadOnlyList<int> EndOfSequenceIds)
{
    /// <param name="checkpointDirectory">Directory holding the JSON files; missing files are skipped.</param>
    /// <param name="idOfToken">Looks up a token's id by its text, or null when unknown.</param>
    public static SequenceMarkers Read(string checkpointDirectory, Func<string, int?> idOfToken)
    {
        string tokenizerConfigPath = Path.Combine(checkpointDirectory, "tokenizer_config.json");
        string configPath = Path.Combine(checkpointDirectory, "config.json");
        string generationConfigPath = Path.Combine(checkpointDirectory, "generation_config.json");
        using JsonDocument? tokenizerConfig = JsonFiles.TryParse(tokenizerConfigPath);
        using JsonDocument? config = JsonFiles.TryParse(configPath);
        using JsonDocument? generationConfig = JsonFiles.TryParse(generationConfigPath);

        int? bos = ReadBeginOfSequence(tokenizerConfig?.RootElement, tokenizerConfigPath, config?.RootElement, idOfToken);

        // Any id a file calls end-of-sequence should stop generation (Qwen lists two).
        var eos = new List<int>();
        AddIds(eos, config?.RootElement.Find("eos_token_id"));
        AddIds(eos, generationConfig?.RootElement.Find("eos_token_id"));
        if (tokenizerConfig?.RootElement.Find("eos_token") is { } eosToken
            && ResolveToken(eosToken, tokenizerConfigPath, idOfToken) is int eosId
            && !eos.Contains(eosId))
        {
            eos.Add(eosId);
        }
        return new SequenceMarkers(bos, eos);
    }

    private static int? ReadBeginOfSequence(
        JsonElement? tokenizerConfig, string tokenizerConfigPath, JsonElement? config, Func<string, int?> idOfToken)
    {
        if (tokenizerConfig is { } settings)
        {
            if (settings.Find("add_bos_token")?.GetBoolean() == false)
                return null;
            // An explicit "bos_token": null (as Qwen writes) means no BOS even if config.json names one.
            if (settings.TryGetProperty("bos_token", out JsonElement bosToken))
                return bosToken.ValueKind == JsonValueKind.Null ? null : ResolveToken(bosToken, tokenizerConfigPath, idOfToken);
        }
        return config?.Find("bos_token_id")?.GetInt32();
    }

    // tokenizer_config.json writes a token either as its text or as {"content": text, ...}.
    private static int? ResolveToken(JsonElement token, string path, Func<string, int?> idOfToken)
    {
        string? text = token.ValueKind == JsonValueKind.Object ? token.Find("content")?.GetString() : token.GetString();
        if (text is null)
            return null;
        return idOfToken(text) ?? throw new TokenizerFormatException(path, $"token \"{text}\" is not in the vocabulary");
    }

    private static void AddIds(List<int> ids, JsonElement? value)
    {
        if (value is not { } element)
            return;
        IEnumerable<JsonElement> items = element.ValueKind == JsonValueKind.Array ? element.EnumerateArray() : [element];
        foreach (JsonElement item in items)
        {
            int id = item.GetInt32();
            if (!ids.Contains(id))
                ids.Add(id);
        }
    }
}
