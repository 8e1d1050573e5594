using System.Globalization;

namespace MoeRuntime.Serving.Tiers;

/// <summary>One routed expert of one model: layer <see cref="Layer"/>, index <see cref="Expert"/>. Written <c>model/layer/expert</c>.</summary>
public readonly record struct ExpertKey(string Model, int Layer, int Expert)
{
    public override string ToString() => $"{Model}/{Layer}/{Expert}";

    /// <summary>
    /// Reads <c>model/layer/expert</c>. The model name may itself contain slashes (Hugging Face ids such as
    /// <c>mistralai/Mixtral-8x7B-v0.1</c>), so the layer and expert are the last two segments.
    /// </summary>
    /// <exception cref="FormatException">The text is not of that form; the message says which part is wrong.</exception>
    public static ExpertKey Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int expertSlash = text.LastIndexOf('/');
        int layerSlash = expertSlash > 0 ? text.LastIndexOf('/', expertSlash - 1) : -1;
        if (layerSlash <= 0)
            throw new FormatException($"'{text}' is not an expert key: expected model/layer/expert, for example default/3/7");
        return new ExpertKey(
            text[..layerSlash],
            Index(text, text.AsSpan(layerSlash + 1, expertSlash - layerSlash - 1), "layer"),
            Index(text, text.AsSpan(expertSlash + 1), "expert"));
    }

    static int Index(string text, ReadOnlySpan<char> part, string what) =>
        int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
            ? value
            : throw new FormatException($"'{text}' is not an expert key: the {what} '{part}' is not a non-negative integer");
}
