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
    /// <summary>Biases on the q, k and v projections (Qwen2-MoE <c>qkv_bias</c>, OLMoE/Qwen3-MoE <c>attention_bias</c>).</summary>
    public bool AttentionBias { get; init; }
    /// <summary>A bias on the o projection (OLMoE and Qwen3-MoE <c>attention_bias</c>; Qwen2-MoE never has one).</summary>
    public bool OutputBias { get; init; }
    /// <summary>RMSNorm over the whole q and k projections (OLMoE).</summary>
    public bool QueryKeyNorm { get; init; }
    /// <summary>RMSNorm over each head of q and k, before rotary embedding (Qwen3-MoE <c>q_norm</c>/<c>k_norm</c>, weights [head_dim]).</summary>
    public bool PerHeadQueryKeyNorm { get; init; }
    /// <summary>OLMoE <c>clip_qkv</c>: q, k and v are clamped to [-c, c] after their projections and norms; null clamps nothing.</summary>
    public double? ClipQkv { get; init; }
    /// <summary>Rotary scaling (<c>rope_parameters</c> / legacy <c>rope_scaling</c>); <see cref="RopeScaling.None"/> for the default rotary embedding.</summary>
    public RopeScaling RopeScaling { get; init; } = RopeScaling.None;
    /// <summary>Mixtral <c>sliding_window</c>: a query sees only the last this-many positions (itself included); null attends to everything before it.</summary>
    public int? SlidingWindow { get; init; }
    public bool TieWordEmbeddings { get; init; }
    public int? BeginOfSequenceTokenId { get; init; }
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; init; } = [];
    /// <summary>The dtype the checkpoint stores (<c>torch_dtype</c>); computation runs in float32 on the CPU.</summary>
    public string StorageDType { get; init; } = "float32";
    /// <summary>Set for the built-in byte-level model; otherwise the checkpoint's tokenizer files decide.</summary>
    public string? TokenizerClass { get; init; }

    public int KeyValueGroupSize => AttentionHeadCount / KeyValueHeadCount;

    /// <summary>
    /// The longest sequence the runtime runs: <c>max_position_embeddings</c>, or that times the factor for
    /// dynamic NTK scaling (whose purpose is to run past the trained length).
    /// </summary>
    public int MaxSequenceLength => RopeScaling.Type == RopeScalingType.Dynamic
        ? (int)Math.Min(int.MaxValue / 2, Math.Floor(MaxPositionEmbeddings * RopeScaling.Factor))
        : MaxPositionEmbeddings;

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
        if (RopeScaling.Type != RopeScalingType.None && !(RopeScaling.Factor >= 1))
            problems.Add($"rope scaling factor must be at least 1 (is {RopeScaling.Factor})");
        if (SlidingWindow is <= 0)
            problems.Add($"sliding_window must be positive (is {SlidingWindow})");
        if (SharedExpertIntermediateSize < 0)
            problems.Add("shared_expert_intermediate_size must not be negative");
        foreach (int id in EndOfSequenceTokenIds.Concat(BeginOfSequenceTokenId is { } bos ? [bos] : []))
            if (id < 0 || id >= VocabularySize) problems.Add($"special token id {id} lies outside the vocabulary");
        if (problems.Count > 0)
            throw new Checkpoints.CheckpointException(source, null, $"invalid model config: {string.Join("; ", problems)}");
    }
}

/// <summary>The rotary scaling types the runtime computes exactly as transformers' <c>modeling_rope_utils</c> does.</summary>
public enum RopeScalingType
{
    /// <summary>The default rotary embedding (<c>rope_type: default</c>).</summary>
    None,
    /// <summary>Positions divided by the factor (every inverse frequency divided by it).</summary>
    Linear,
    /// <summary>Dynamic NTK: past <c>max_position_embeddings</c> the base grows with the sequence length.</summary>
    Dynamic,
}

/// <summary>A rotary scaling type and its factor.</summary>
public sealed record RopeScaling(RopeScalingType Type, double Factor)
{
    public static RopeScaling None { get; } = new(RopeScalingType.None, 1);
}
