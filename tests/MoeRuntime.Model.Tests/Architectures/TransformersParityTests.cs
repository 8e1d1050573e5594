using System.Text.Json.Nodes;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tests.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Architectures;

/// <summary>
/// Each architecture in each config form, written to disk and loaded by the runtime, generates greedily the tokens,
/// logits and per-layer routing that <see cref="TransformersReference"/> computes for what transformers makes of the
/// file. Forms marked "probe" are departures issue 13 lists: the runtime computed something else before.
/// </summary>
public class TransformersParityTests
{
    static ModelConfig Tiny(ModelArchitecture a) => ArchitectureCheckpoints.Tiny(a);

    static void Remove(JsonObject root, params string[] names)
    {
        foreach (string name in names) root.Remove(name);
    }

    public static TheoryData<CheckpointForm> Forms() =>
    [
        // Every field written out.
        new("mixtral full", Tiny(ModelArchitecture.Mixtral)),
        new("qwen2_moe full", Tiny(ModelArchitecture.Qwen2Moe)),
        new("olmoe full", Tiny(ModelArchitecture.Olmoe)),
        new("qwen3_moe full", Tiny(ModelArchitecture.Qwen3Moe)),
        new("mixtral tied embeddings", Tiny(ModelArchitecture.Mixtral) with { TieWordEmbeddings = true }),
        new("qwen3_moe bfloat16", Tiny(ModelArchitecture.Qwen3Moe) with { StorageDType = "bfloat16" }, Storage: ScalarType.BFloat16),
        new("olmoe float16", Tiny(ModelArchitecture.Olmoe) with { StorageDType = "float16" }, Storage: ScalarType.Float16),

        // Probe: rope_theta absent means Mixtral's 1e6.
        new("mixtral without rope_theta (probe)", Tiny(ModelArchitecture.Mixtral) with { RopeTheta = 1e6 }, r => Remove(r, "rope_theta")),
        // Probe: rope_theta only under rope_parameters (newer transformers).
        new("mixtral rope_parameters only (probe)", Tiny(ModelArchitecture.Mixtral) with { RopeTheta = 500 }, r =>
        {
            Remove(r, "rope_theta", "rope_scaling");
            r["rope_parameters"] = new JsonObject { ["rope_type"] = "default", ["rope_theta"] = 500.0 };
        }),
        // Probe: rms_norm_eps absent means 1e-5 for Mixtral and OLMoE (small embeddings make epsilon matter).
        new("mixtral without rms_norm_eps (probe)", Tiny(ModelArchitecture.Mixtral) with { RmsNormEpsilon = 1e-5 }, r => Remove(r, "rms_norm_eps"), EmbeddingScale: 0.003f),
        new("olmoe without rms_norm_eps (probe)", Tiny(ModelArchitecture.Olmoe) with { RmsNormEpsilon = 1e-5 }, r => Remove(r, "rms_norm_eps"), EmbeddingScale: 0.003f),
        new("qwen2_moe without rms_norm_eps", Tiny(ModelArchitecture.Qwen2Moe) with { RmsNormEpsilon = 1e-6 }, r => Remove(r, "rms_norm_eps"), EmbeddingScale: 0.003f),
        // Probe: num_key_value_heads absent means 8 for Mixtral, not the head count.
        new("mixtral without num_key_value_heads (probe)", Tiny(ModelArchitecture.Mixtral) with { AttentionHeadCount = 16, KeyValueHeadCount = 8, HeadDimension = 2 },
            r => Remove(r, "num_key_value_heads")),
        new("olmoe without num_key_value_heads", Tiny(ModelArchitecture.Olmoe) with { KeyValueHeadCount = 2 }, r => Remove(r, "num_key_value_heads")),
        new("qwen3_moe without num_key_value_heads", Tiny(ModelArchitecture.Qwen3Moe) with { AttentionHeadCount = 4, KeyValueHeadCount = 4, HeadDimension = 2 },
            r => Remove(r, "num_key_value_heads")),
        // Probe: Qwen2-MoE without shared_expert_intermediate_size has a shared expert of the default size 5632.
        new("qwen2_moe without shared_expert_intermediate_size (probe)", Tiny(ModelArchitecture.Qwen2Moe) with { SharedExpertIntermediateSize = 5632 },
            r => Remove(r, "shared_expert_intermediate_size")),
        // Probe: rotary scaling computed as modeling_rope_utils does.
        new("mixtral linear rope_scaling (probe)", Tiny(ModelArchitecture.Mixtral) with { RopeScaling = new(RopeScalingType.Linear, 4) }),
        new("qwen2_moe linear rope_parameters (probe)", Tiny(ModelArchitecture.Qwen2Moe) with { RopeScaling = new(RopeScalingType.Linear, 2), RopeTheta = 1000 }, r =>
        {
            Remove(r, "rope_theta", "rope_scaling");
            r["rope_parameters"] = new JsonObject { ["rope_type"] = "linear", ["factor"] = 2.0, ["rope_theta"] = 1000.0 };
        }),
        new("mixtral dynamic rope past max_position_embeddings (probe)",
            Tiny(ModelArchitecture.Mixtral) with { RopeScaling = new(RopeScalingType.Dynamic, 2), MaxPositionEmbeddings = 8, RopeTheta = 100 },
            r => r["rope_scaling"] = new JsonObject { ["type"] = "dynamic", ["factor"] = 2.0 }),
        // Probe: Mixtral sliding_window as transformers' mask, in prefill and decoding past the window.
        new("mixtral sliding_window 3 (probe)", Tiny(ModelArchitecture.Mixtral) with { SlidingWindow = 3 }),
        // Probe: OLMoE attention_bias includes o_proj.bias.
        new("olmoe attention_bias (probe)", Tiny(ModelArchitecture.Olmoe) with { AttentionBias = true, OutputBias = true }),
        // Probe: OLMoE clip_qkv honoured.
        new("olmoe clip_qkv 0.3 (probe)", Tiny(ModelArchitecture.Olmoe) with { ClipQkv = 0.3 }),
        // Qwen3-MoE: head_dim from the config (not hidden / heads), per-head q/k norms, attention_bias, norm_topk_prob off.
        new("qwen3_moe head_dim 6 with attention_bias", Tiny(ModelArchitecture.Qwen3Moe) with { HeadDimension = 6, AttentionBias = true, OutputBias = true, NormalizeTopKProbabilities = false }),
    ];

    [Theory]
    [MemberData(nameof(Forms))]
    public void GreedyTokensLogitsAndRoutingMatchTransformers(CheckpointForm form)
    {
        var weights = new TinyModelWeights(form.Stated, seed: 1300 + (ulong)form.Name.Length, embeddingScale: form.EmbeddingScale);
        using var dir = new TempDirectory();
        ArchitectureCheckpoints.Write(dir.Path, form, weights);

        using MoeModel model = ModelLoader.Load(dir.Path, CPU);
        ArchitectureCheckpoints.AssertMatchesReference(form, weights, model);
    }

    [Fact]
    public void TheProbesDependOnTheDepartureTheyTest()
    {
        // The reference with today's old meaning of a field computes other logits than with transformers' meaning;
        // otherwise a probe could not fail.
        ModelConfig stated = Tiny(ModelArchitecture.Mixtral) with { RopeTheta = 1e6 };
        var weights = new TinyModelWeights(stated, seed: 5);
        double[] transformers = new TransformersReference(stated, weights).Generate(ArchitectureCheckpoints.Prompt, 1)[0].Logits;
        double[] old = new TransformersReference(stated with { RopeTheta = 10000 }, weights).Generate(ArchitectureCheckpoints.Prompt, 1)[0].Logits;
        Assert.True(transformers.Zip(old).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Theory]
    [InlineData("yarn")]
    [InlineData("longrope")]
    [InlineData("llama3")]
    public void RotaryScalingTypesNotComputedAreRefusedByName(string type)
    {
        var form = new CheckpointForm(type, Tiny(ModelArchitecture.Mixtral), r =>
            r["rope_scaling"] = new JsonObject { ["rope_type"] = type, ["factor"] = 4.0, ["original_max_position_embeddings"] = 16 });
        var error = LoadFails(form);
        Assert.Contains($"'{type}'", error.Message);
    }

    [Theory]
    [InlineData(ModelArchitecture.Qwen3Moe, "mlp_only_layers", "[1]")]
    [InlineData(ModelArchitecture.Qwen2Moe, "mlp_only_layers", "[0]")]
    [InlineData(ModelArchitecture.Qwen3Moe, "decoder_sparse_step", "2")]
    [InlineData(ModelArchitecture.Qwen3Moe, "use_sliding_window", "true")]
    [InlineData(ModelArchitecture.Qwen2Moe, "use_sliding_window", "true")]
    [InlineData(ModelArchitecture.Mixtral, "partial_rotary_factor", "0.5")]
    [InlineData(ModelArchitecture.Mixtral, "hidden_act", "\"gelu\"")]
    public void FieldsThatChangeTheComputationButAreNotHonouredAreRefusedByName(ModelArchitecture architecture, string field, string value)
    {
        var form = new CheckpointForm(field, Tiny(architecture), r => r[field] = JsonNode.Parse(value));
        var error = LoadFails(form);
        Assert.Contains(field, error.Message);
    }

    [Theory]
    [InlineData(ModelArchitecture.Mixtral, "model.layers.0.self_attn.o_proj.bias")]
    [InlineData(ModelArchitecture.Qwen2Moe, "model.layers.1.self_attn.o_proj.bias")]
    [InlineData(ModelArchitecture.Olmoe, "model.layers.0.mlp.shared_expert_gate.weight")]
    [InlineData(ModelArchitecture.Qwen3Moe, "model.layers.1.mlp.experts.9.up_proj.weight")]
    public void ATensorTheModelWouldIgnoreIsNamedAtLoad(ModelArchitecture architecture, string extra)
    {
        // Probe: before, any extra tensor was silently ignored.
        var form = new CheckpointForm("extra", Tiny(architecture));
        var weights = new TinyModelWeights(form.Stated, seed: 77);
        using var dir = new TempDirectory();
        ArchitectureCheckpoints.Write(dir.Path, form, weights, [KeyValuePair.Create(extra, new float[8])]);
        var error = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir.Path, CPU));
        Assert.Contains(extra, error.Message);
    }

    [Fact]
    public void RotaryInverseFrequencyBuffersAreDocumentedAsUnused()
    {
        var form = new CheckpointForm("inv_freq", Tiny(ModelArchitecture.Mixtral));
        var weights = new TinyModelWeights(form.Stated, seed: 78);
        using var dir = new TempDirectory();
        ArchitectureCheckpoints.Write(dir.Path, form, weights, [KeyValuePair.Create("model.layers.0.self_attn.rotary_emb.inv_freq", new float[2])]);
        using MoeModel model = ModelLoader.Load(dir.Path, CPU);
        Assert.Equal(2, model.Layers.Count);
    }

    [Fact]
    public void QwenSharedExpertTensorsWithAZeroSizeAreRefusedNotDropped()
    {
        // shared_expert_intermediate_size 0 means no shared expert: tensors for one are then named, not ignored.
        var withShared = new TinyModelWeights(Tiny(ModelArchitecture.Qwen2Moe), seed: 79);
        var form = new CheckpointForm("zero shared", Tiny(ModelArchitecture.Qwen2Moe) with { SharedExpertIntermediateSize = 0 });
        using var dir = new TempDirectory();
        ArchitectureCheckpoints.Write(dir.Path, form, withShared);
        var error = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir.Path, CPU));
        Assert.Contains("shared_expert", error.Message);
    }

    static CheckpointException LoadFails(CheckpointForm form)
    {
        var weights = new TinyModelWeights(form.Stated, seed: 76);
        using var dir = new TempDirectory();
        ArchitectureCheckpoints.Write(dir.Path, form, weights);
        return Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir.Path, CPU));
    }
}
