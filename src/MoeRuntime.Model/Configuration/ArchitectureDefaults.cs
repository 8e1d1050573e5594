namespace MoeRuntime.Model.Configuration;

/// <summary>
/// What a field absent from <c>config.json</c> means for each <c>model_type</c>: the defaults of transformers'
/// configuration classes (<c>MixtralConfig</c>, <c>Qwen2MoeConfig</c>, <c>OlmoeConfig</c>, <c>Qwen3MoeConfig</c>),
/// not one shared default. docs/architectures.md lists them.
/// </summary>
public sealed record ArchitectureDefaults
{
    public required ModelArchitecture Architecture { get; init; }
    public required string ModelType { get; init; }
    public required int VocabularySize { get; init; }
    public required int HiddenSize { get; init; }
    public required int Layers { get; init; }
    public required int AttentionHeads { get; init; }
    /// <summary>Null: one key/value head per attention head.</summary>
    public required int? KeyValueHeads { get; init; }
    public required int MaxPositionEmbeddings { get; init; }
    public required double RmsNormEpsilon { get; init; }
    public required double RopeTheta { get; init; }
    public required int ExpertCount { get; init; }
    /// <summary>The field naming the number of routed experts, and the other name transformers maps onto it.</summary>
    public required string ExpertCountField { get; init; }
    public required string ExpertCountAlias { get; init; }
    public required int ExpertsPerToken { get; init; }
    public required string ExpertIntermediateField { get; init; }
    public required int ExpertIntermediateSize { get; init; }
    public int SharedExpertIntermediateSize { get; init; }
    public int? BeginOfSequenceId { get; init; }
    public IReadOnlyList<int> EndOfSequenceIds { get; init; } = [];

    public static ArchitectureDefaults Mixtral { get; } = new()
    {
        Architecture = ModelArchitecture.Mixtral, ModelType = "mixtral",
        VocabularySize = 32000, HiddenSize = 4096, Layers = 32, AttentionHeads = 32, KeyValueHeads = 8,
        MaxPositionEmbeddings = 4096 * 32, RmsNormEpsilon = 1e-5, RopeTheta = 1e6,
        ExpertCount = 8, ExpertCountField = "num_local_experts", ExpertCountAlias = "num_experts", ExpertsPerToken = 2,
        ExpertIntermediateField = "intermediate_size", ExpertIntermediateSize = 14336,
        BeginOfSequenceId = 1, EndOfSequenceIds = [2],
    };

    public static ArchitectureDefaults Qwen2Moe { get; } = new()
    {
        Architecture = ModelArchitecture.Qwen2Moe, ModelType = "qwen2_moe",
        VocabularySize = 151936, HiddenSize = 2048, Layers = 24, AttentionHeads = 16, KeyValueHeads = 16,
        MaxPositionEmbeddings = 32768, RmsNormEpsilon = 1e-6, RopeTheta = 10000,
        ExpertCount = 60, ExpertCountField = "num_experts", ExpertCountAlias = "num_experts", ExpertsPerToken = 4,
        ExpertIntermediateField = "moe_intermediate_size", ExpertIntermediateSize = 1408,
        SharedExpertIntermediateSize = 5632,
    };

    public static ArchitectureDefaults Olmoe { get; } = new()
    {
        Architecture = ModelArchitecture.Olmoe, ModelType = "olmoe",
        VocabularySize = 50304, HiddenSize = 2048, Layers = 16, AttentionHeads = 16, KeyValueHeads = null,
        MaxPositionEmbeddings = 4096, RmsNormEpsilon = 1e-5, RopeTheta = 10000,
        ExpertCount = 64, ExpertCountField = "num_experts", ExpertCountAlias = "num_local_experts", ExpertsPerToken = 8,
        ExpertIntermediateField = "intermediate_size", ExpertIntermediateSize = 2048,
        EndOfSequenceIds = [50279],
    };

    public static ArchitectureDefaults Qwen3Moe { get; } = new()
    {
        Architecture = ModelArchitecture.Qwen3Moe, ModelType = "qwen3_moe",
        VocabularySize = 151936, HiddenSize = 2048, Layers = 24, AttentionHeads = 32, KeyValueHeads = 4,
        MaxPositionEmbeddings = 32768, RmsNormEpsilon = 1e-6, RopeTheta = 10000,
        ExpertCount = 128, ExpertCountField = "num_experts", ExpertCountAlias = "num_local_experts", ExpertsPerToken = 8,
        ExpertIntermediateField = "moe_intermediate_size", ExpertIntermediateSize = 768,
    };

    public static IReadOnlyList<ArchitectureDefaults> All { get; } = [Mixtral, Qwen2Moe, Olmoe, Qwen3Moe];

    /// <summary>The defaults for a <c>model_type</c>, or null when the runtime does not support it.</summary>
    public static ArchitectureDefaults? For(string modelType) => All.FirstOrDefault(d => d.ModelType == modelType);
}
