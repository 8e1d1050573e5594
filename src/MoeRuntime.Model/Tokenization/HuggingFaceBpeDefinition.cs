using System.Text.RegularExpressions;

namespace MoeRuntime.Model.Tokenization;

/// <summary>A token matched verbatim in input text before BPE runs (tokenizer.json "added_tokens").</summary>
internal readonly record struct AddedToken(int Id, string Content, bool Special);

/// <summary>What a byte-level BPE tokenizer.json describes, validated and ready to build from.</summary>
internal sealed record HuggingFaceBpeDefinition(
    Dictionary<string, int> Vocabulary,
    IReadOnlyList<string> Merges,
    IReadOnlyList<AddedToken> AddedTokens,
    Regex WordSplitter,
    bool NormalizeToNfc,
    string? UnknownToken);
