namespace MoeRuntime.Serving.Tiers;

/// <summary>Where an expert's weights live on its rank.</summary>
public enum Tier
{
    /// <summary>A float32 <see cref="Model.Layers.ExpertFfn"/> on the compute device, ready for matmul.</summary>
    Hot,

    /// <summary>The expert's raw checkpoint bytes in host memory: one conversion away from hot.</summary>
    Warm,

    /// <summary>Nothing in memory: read from the checkpoint on demand and checked against its SHA-256.</summary>
    Cold,
}

/// <summary>
/// The one spelling of tiers in text — TierSets, pins, decision records, traces' tags, the CLI: <c>hot</c>,
/// <c>warm</c>, <c>cold</c>. Parsing takes those names in any case and nothing else (no numerals, no blanks).
/// </summary>
public static class TierNames
{
    /// <summary>What the names are, for messages.</summary>
    public const string Expected = "hot, warm, cold";

    /// <summary>The tier's name: hot, warm or cold.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined <see cref="Tier"/>.</exception>
    public static string Of(Tier tier) => tier switch
    {
        Tier.Hot => "hot",
        Tier.Warm => "warm",
        Tier.Cold => "cold",
        _ => throw new ArgumentOutOfRangeException(nameof(tier), tier, $"not a tier ({Expected})"),
    };

    /// <summary>Reads a tier name, any case; false for anything else, numerals, empty text and null included.</summary>
    public static bool TryParse(string? text, out Tier tier)
    {
        if (string.Equals(text, "hot", StringComparison.OrdinalIgnoreCase)) tier = Tier.Hot;
        else if (string.Equals(text, "warm", StringComparison.OrdinalIgnoreCase)) tier = Tier.Warm;
        else if (string.Equals(text, "cold", StringComparison.OrdinalIgnoreCase)) tier = Tier.Cold;
        else
        {
            tier = default;
            return false;
        }
        return true;
    }

    /// <summary>Reads a tier name, any case.</summary>
    /// <exception cref="FormatException">Not one of hot, warm, cold; the message names the text.</exception>
    public static Tier Parse(string? text) =>
        TryParse(text, out Tier tier) ? tier : throw new FormatException(ProblemWith(text));

    /// <summary>The one-line error for text that is not a tier name.</summary>
    public static string ProblemWith(string? text) =>
        text is null ? $"no tier given ({Expected})" : $"'{text}' is not a tier ({Expected})";
}
