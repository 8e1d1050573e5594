namespace MoeRuntime.Model.Configuration;

/// <summary>
/// The shape of one MoE decoder, as read from a Hugging Face <c>config.json</c>
/// (see <see cref="ModelConfigJson"/>). Immutable; <see cref="Validate"/> checks it is consistent.
/// </summary>
public sealed record ModelConfig
{
    public ModelArchitecture Architecture { get; init; } = ModelArchitecture.Mixtral;
    public int VocabularySize { get; init; }
    public int HiddenSize { get; init; }
    /// <summary>Width of one routed expert's hidden layer (Mixtral <c>intermediate_size</c>, Qwen2-MoE/OLMoE <c>moe_intermediate_size</c> or <c>intermediate_size</c>).</summary>
    public int ExpertIntermediateSize { get; init; }
    public int LayerCount { get; init; }
    public int AttentionHeadCount { get; init; }
    public int KeyValueHeadCount { get; init; }
    public int HeadDimension { get; init; }
    public int ExpertCount { get; init; }
    public int ExpertsPerToken { get; init; }
    public double RmsNormEpsilon { get; init; } = 1e-5;
    public double RopeTheta { get; init; } = 1e6;
    public int MaxPositionEmbeddings { get; init; } = 4096;
    /// <summary>Renormalise the top-k routing weights to sum to one (always true for Mixtral).</summary>
    public bool NormalizeTopKProbabilities { get; init; } = true;
    /// <summary>Qwen2-MoE's always-on shared expert; 0 means none.</summary>
    public int SharedExpertIntermediateSize { get; init; }
    /// <summary>Biases on the q, k and v projections (Qwen2-MoE).</summary>
    public bool AttentionBias { get; init; }
    /// <summary>RMSNorm over the whole q and k projections (OLMoE).</summary>
    public bool QueryKeyNorm { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int? BeginOfSequenceTokenId { get; init; }
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; init; } = [];
    /// <summary>The dtype the checkpoint stores (<c>torch_dtype</c>); computation runs in float32 on the CPU.</summary>
    public string StorageDType { get; init; } = "float32";
    /// <summary>Set for the built-in byte-level model; otherwise the checkpoint's tokenizer files decide.</summary>
    public string? TokenizerClass { get; init; }

    public int KeyValueGroupSize => AttentionHeadCount / KeyValueHeadCount;

    /// <summary>Throws <see cref="Checkpoints.CheckpointException"/> naming the source and every inconsistent field.</summary>
    public void Validate(string source)
    {
        var problems = new List<string>();
        void Positive(int value, string name)
        {
            if (value <= 0) problems.Add($"{name} must be positive (is {value})");
        }
        Positive(VocabularySize, "vocab_size");
        Positive(HiddenSize, "hidden_size");
        Positive(ExpertIntermediateSize, "intermediate_size");
        Positive(LayerCount, "num_hidden_layers");
        Positive(AttentionHeadCount, "num_attention_heads");
        Positive(KeyValueHeadCount, "num_key_value_heads");
        Positive(HeadDimension, "head_dim");
        Positive(ExpertCount, "num_local_experts");
        Positive(ExpertsPerToken, "num_experts_per_tok");
        Positive(MaxPositionEmbeddings, "max_position_embeddings");
        if (KeyValueHeadCount > 0 && AttentionHeadCount % KeyValueHeadCount != 0)
            problems.Add($"num_attention_heads ({AttentionHeadCount}) must be a multiple of num_key_value_heads ({KeyValueHeadCount})");
        if (ExpertsPerToken > ExpertCount)
            problems.Add($"num_experts_per_tok ({ExpertsPerToken}) exceeds the number of experts ({ExpertCount})");
        if (HeadDimension % 2 != 0)
            problems.Add($"head_dim ({HeadDimension}) must be even for rotary embeddings");
        if (!(RmsNormEpsilon > 0) || !(RopeTheta > 0))
            problems.Add("rms_norm_eps and rope_theta must be positive");
        if (SharedExpertIntermediateSize < 0)
            problems.Add("shared_expert_intermediate_size must not be negative");
        foreach (int id in EndOfSequenceTokenIds.Concat(BeginOfSequenceTokenId is { } bos ? [bos] : []))
            if (id < 0 || id >= VocabularySize) problems.Add($"special token id {id} lies outside the vocabulary");
        if (problems.Count > 0)
            throw new Checkpoints.CheckpointException(source, null, $"invalid model config: {string.Join("; ", problems)}");
    }
}
