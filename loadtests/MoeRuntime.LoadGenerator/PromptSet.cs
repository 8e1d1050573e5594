namespace MoeRuntime.LoadGenerator;

/// <summary>The prompts requests cycle through: a built-in varied set, or one per line of a file.</summary>
static class PromptSet
{
    // Different lengths and character classes, so the default model routes them to different experts.
    static readonly string[] BuiltIn =
    [
        "The experts of the first layer",
        "Once upon a time, in a cluster far away,",
        "SELECT name, rank FROM silos WHERE status = 'Active';",
        "0123456789 9876543210 1123581321",
        "def route(tokens, gate):\n    return gate.topk(tokens)",
        "Mixture of experts",
        "A long prompt that keeps going, with commas, clauses and more words than most, so that prefill has real work to do before decoding starts.",
        "¿Dónde están los expertos?",
    ];

    public static IReadOnlyList<string> Load(string? path)
    {
        if (path is null) return BuiltIn;
        string[] prompts = File.ReadLines(path).Where(l => !string.IsNullOrWhiteSpace(l)).ToArray();
        return prompts.Length > 0 ? prompts : throw new ArgumentException($"{path} holds no prompt");
    }

    /// <summary>The prompt of the <paramref name="index"/>-th request of a run.</summary>
    public static string For(IReadOnlyList<string> prompts, int index) => prompts[index % prompts.Count];
}
