namespace MoeRuntime.Model.Configuration;

/// <summary>The checkpoint families whose config and tensor names the loader understands.</summary>
public enum ModelArchitecture
{
    /// <summary>Mixtral: <c>block_sparse_moe</c>, experts w1/w2/w3, top-k weights always renormalised.</summary>
    Mixtral,
    /// <summary>Qwen2-MoE: q/k/v biases, optional shared expert with a sigmoid gate, <c>norm_topk_prob</c>.</summary>
    Qwen2Moe,
    /// <summary>OLMoE: RMSNorm on the q and k projections, <c>norm_topk_prob</c>.</summary>
    Olmoe,
    /// <summary>Qwen3-MoE: per-head RMSNorm on q and k, <c>norm_topk_prob</c>, no shared expert, <c>head_dim</c> from the config.</summary>
    Qwen3Moe,
}
