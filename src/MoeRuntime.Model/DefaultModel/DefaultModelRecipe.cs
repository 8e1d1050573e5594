using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Tokenization;

namespace MoeRuntime.Model.DefaultModel;

/// <summary>
/// The built-in model: a Mixtral-layout checkpoint written from a seed, small enough for two CPU
/// cores and large enough that tiers matter (each expert is 1.5 MB in bfloat16). The constants shape
/// its routing; <c>docs/default-model.md</c> explains them and the skew they produce.
/// </summary>
public sealed record DefaultModelRecipe
{
    public const ulong DefaultSeed = 20261126;

    public ulong Seed { get; init; } = DefaultSeed;

    public ModelConfig Config { get; init; } = new()
    {
        Architecture = ModelArchitecture.Mixtral,
        VocabularySize = ByteLevelTokenizer.TokenCount,
        HiddenSize = 256,
        ExpertIntermediateSize = 1024,
        LayerCount = 4,
        AttentionHeadCount = 8,
        KeyValueHeadCount = 2,
        HeadDimension = 32,
        ExpertCount = 8,
        ExpertsPerToken = 2,
        RmsNormEpsilon = 1e-5,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 2048,
        NormalizeTopKProbabilities = true,
        BeginOfSequenceTokenId = ByteLevelTokenizer.BeginOfSequenceTokenId,
        EndOfSequenceTokenIds = [ByteLevelTokenizer.EndOfSequenceTokenId],
        StorageDType = "bfloat16",
        TokenizerClass = nameof(ByteLevelTokenizer),
    };

    /// <summary>Weight of the direction every token shares; the gate's popularity term reads it.</summary>
    public double SharedDirection { get; init; } = 0.6;
    /// <summary>Weight of the token's character class (letter, digit, space, ...).</summary>
    public double ClassDirection { get; init; } = 0.35;
    /// <summary>Weight of the token's own random direction.</summary>
    public double TokenDirection { get; init; } = 0.7;
    /// <summary>Logit spread between the most and least popular expert of a layer (Zipf-like ranks).</summary>
    public double Popularity { get; init; } = 0.12;
    /// <summary>How strongly a token's own direction and class steer its experts.</summary>
    public double Preference { get; init; } = 3.0;
    /// <summary>Scale of the attention output, which mixes context into the residual stream.</summary>
    public double AttentionOutput { get; init; } = 0.2;
    /// <summary>Checkpoint shard size: small enough that the default model has more than one shard.</summary>
    public long MaxShardBytes { get; init; } = 32L << 20;
}
