namespace MoeRuntime.Model.Tests.Tokenization;

/// <summary>
/// A hand-made byte-level BPE tokenizer.json. Vocabulary entries are in GPT-2's byte alphabet:
/// 'Ġ' is a space, and "Ã" + "©" are the two UTF-8 bytes of 'é' (C3 A9).
/// </summary>
internal static class TinyBpeTokenizerJson
{
    public const int H = 0, L = 2, D = 6, ByteC3 = 8, ByteA9 = 9;
    public const int Hello = 13, SpaceW = 14, Llo = 12, SpaceWor = 16;
    public const int EndOfText = 17, Think = 18, Bos = 19;

    public const string GptStylePreTokenizer =
        """{ "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true }""";

    public const string QwenStylePreTokenizer =
        """
        { "type": "Sequence", "pretokenizers": [
            { "type": "Split", "pattern": { "Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" },
              "behavior": "Isolated", "invert": false },
            { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false } ] }
        """;

    public static string Create(string preTokenizer = GptStylePreTokenizer, string modelType = "BPE") =>
        $$"""
        {
          "version": "1.0",
          "added_tokens": [
            { "id": 17, "content": "<|endoftext|>", "special": true },
            { "id": 18, "content": "<think>", "special": false },
            { "id": 19, "content": "<s>", "special": true }
          ],
          "normalizer": null,
          "pre_tokenizer": {{preTokenizer}},
          "post_processor": null,
          "decoder": { "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true },
          "model": {
            "type": "{{modelType}}",
            "dropout": null,
            "unk_token": null,
            "byte_fallback": false,
            "vocab": {
              "h": 0, "e": 1, "l": 2, "o": 3, "w": 4, "r": 5, "d": 6, "Ġ": 7, "Ã": 8, "©": 9,
              "he": 10, "ll": 11, "llo": 12, "hello": 13, "Ġw": 14, "or": 15, "Ġwor": 16
            },
            "merges": ["h e", "l l", "ll o", "he llo", "Ġ w", ["o", "r"], "Ġw or"]
          }
        }
        """;
}
