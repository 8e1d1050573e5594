using MoeRuntime.Model.Configuration;

namespace MoeRuntime.Model.Loading;

/// <summary>Tensor names as transformers writes them for each supported architecture.</summary>
public sealed class CheckpointTensorNames(ModelArchitecture architecture)
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    string Moe(int layer) => architecture == ModelArchitecture.Mixtral
        ? $"model.layers.{layer}.block_sparse_moe"
        : $"model.layers.{layer}.mlp";

    public static string InputNorm(int layer) => $"model.layers.{layer}.input_layernorm.weight";
    public static string PostAttentionNorm(int layer) => $"model.layers.{layer}.post_attention_layernorm.weight";

    /// <summary>q, k, v or o projection weight.</summary>
    public static string Attention(int layer, char projection) => $"model.layers.{layer}.self_attn.{projection}_proj.weight";
    public static string AttentionBias(int layer, char projection) => $"model.layers.{layer}.self_attn.{projection}_proj.bias";
    /// <summary>OLMoE's q_norm / k_norm.</summary>
    public static string AttentionNorm(int layer, char projection) => $"model.layers.{layer}.self_attn.{projection}_norm.weight";

    public string Gate(int layer) => $"{Moe(layer)}.gate.weight";

    /// <summary>The expert's gate (w1), down (w2) and up (w3) projections.</summary>
    public (string W1, string W2, string W3) Expert(int layer, int expert)
    {
        string prefix = $"{Moe(layer)}.experts.{expert}";
        return architecture == ModelArchitecture.Mixtral
            ? ($"{prefix}.w1.weight", $"{prefix}.w2.weight", $"{prefix}.w3.weight")
            : ($"{prefix}.gate_proj.weight", $"{prefix}.down_proj.weight", $"{prefix}.up_proj.weight");
    }

    public (string W1, string W2, string W3) SharedExpert(int layer)
    {
        string prefix = $"{Moe(layer)}.shared_expert";
        return ($"{prefix}.gate_proj.weight", $"{prefix}.down_proj.weight", $"{prefix}.up_proj.weight");
    }

    public string SharedExpertGate(int layer) => $"{Moe(layer)}.shared_expert_gate.weight";
}
