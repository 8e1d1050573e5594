using System.Text.Json;
using System.Diagnostics;
using MoeRuntime.Model.Checkpoints;
using System.Text.Json.Nodes;

namespace MoeRuntime.Model.Configuration;

/// <summary>
/// Reads and writes <c>config.json</c> in the Hugging Face layout of Mixtral, Qwen2-MoE and OLMoE.
/// Fields a family does not have keep their defaults; layouts this runtime cannot run are refused.
/// </summary>
public static class ModelConfigJson
{
    public const string FileName = "config.json";

    public static ModelConfig Load(string checkpointDirectory)
    {
        string path = Path.Combine(checkpointDirectory, FileName);
        if (!File.Exists(path)) throw new CheckpointException(path, null, "model config not found");
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
                ?? throw new CheckpointException(path, null, "the top level must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, null, $"not valid JSON: {e.Message}", e);
        }
        ModelConfig config = Parse(new Fields(root, path));
        config.Validate(path);
        return config;
    }

    public static void Save(ModelConfig config, string checkpointDirectory)
    {
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray(ArchitectureClass(config.Architecture)),
            ["model_type"] = ModelType(config.Architecture),
            ["vocab_size"] = config.VocabularySize,
            ["hidden_size"] = config.HiddenSize,
            ["num_hidden_layers"] = config.LayerCount,
            ["num_attention_heads"] = config.AttentionHeadCount,
            ["num_key_value_heads"] = config.KeyValueHeadCount,
            ["head_dim"] = config.HeadDimension,
            ["num_experts_per_tok"] = config.ExpertsPerToken,
            ["rms_norm_eps"] = config.RmsNormEpsilon,
            ["rope_theta"] = config.RopeTheta,
            ["max_position_embeddings"] = config.MaxPositionEmbeddings,
            ["tie_word_embeddings"] = config.TieWordEmbeddings,
            ["torch_dtype"] = config.StorageDType,
            ["hidden_act"] = "silu",
        };
        switch (config.Architecture)
        {
            case ModelArchitecture.Mixtral:
                root["intermediate_size"] = config.ExpertIntermediateSize;
                root["num_local_experts"] = config.ExpertCount;
                break;
            case ModelArchitecture.Qwen2Moe:
                root["moe_intermediate_size"] = config.ExpertIntermediateSize;
                root["num_experts"] = config.ExpertCount;
                root["norm_topk_prob"] = config.NormalizeTopKProbabilities;
                root["shared_expert_intermediate_size"] = config.SharedExpertIntermediateSize;
                root["qkv_bias"] = config.AttentionBias;
                root["decoder_sparse_step"] = 1;
                root["mlp_only_layers"] = new JsonArray();
                break;
            case ModelArchitecture.Olmoe:
                root["intermediate_size"] = config.ExpertIntermediateSize;
                root["num_experts"] = config.ExpertCount;
                root["norm_topk_prob"] = config.NormalizeTopKProbabilities;
                root["attention_bias"] = config.AttentionBias;
                break;
        }
        if (config.BeginOfSequenceTokenId is { } bos) root["bos_token_id"] = bos;
        if (config.EndOfSequenceTokenIds.Count == 1) root["eos_token_id"] = config.EndOfSequenceTokenIds[0];
        else if (config.EndOfSequenceTokenIds.Count > 1)
            root["eos_token_id"] = new JsonArray(config.EndOfSequenceTokenIds.Select(id => (JsonNode?)id).ToArray());
        if (config.TokenizerClass is { } tokenizer) root["tokenizer_class"] = tokenizer;

        Directory.CreateDirectory(checkpointDirectory);
        string path = Path.Combine(checkpointDirectory, FileName);
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    static ModelConfig Parse(Fields f)
    {
        string modelType = f.String("model_type");
        ModelArchitecture architecture = modelType switch
        {
            "mixtral" => ModelArchitecture.Mixtral,
            "qwen2_moe" => ModelArchitecture.Qwen2Moe,
            "olmoe" => ModelArchitecture.Olmoe,
            _ => throw f.Error($"model_type '{modelType}' is not supported (mixtral, qwen2_moe, olmoe are)"),
        };
        string act = f.OptionalString("hidden_act") ?? "silu";
        if (act != "silu") throw f.Error($"hidden_act '{act}' is not supported (only silu, as SwiGLU experts need)");

        int hidden = f.Int("hidden_size");
        int heads = f.Int("num_attention_heads");
        var config = new ModelConfig
        {
            Architecture = architecture,
            VocabularySize = f.Int("vocab_size"),
            HiddenSize = hidden,
            LayerCount = f.Int("num_hidden_layers"),
            AttentionHeadCount = heads,
            KeyValueHeadCount = f.OptionalInt("num_key_value_heads") ?? heads,
            HeadDimension = f.OptionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
            ExpertsPerToken = f.Int("num_experts_per_tok"),
            RmsNormEpsilon = f.OptionalDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = f.OptionalDouble("rope_theta") ?? 10000,
            MaxPositionEmbeddings = f.OptionalInt("max_position_embeddings") ?? 4096,
            TieWordEmbeddings = f.OptionalBool("tie_word_embeddings") ?? false,
            BeginOfSequenceTokenId = f.OptionalInt("bos_token_id"),
            EndOfSequenceTokenIds = f.IntOrIntList("eos_token_id"),
            StorageDType = f.OptionalString("torch_dtype") ?? f.OptionalString("dtype") ?? "float32",
            TokenizerClass = f.OptionalString("tokenizer_class"),
        };
        if (f.Has("rope_scaling") && f.IsNonNull("rope_scaling"))
            throw f.Error("rope_scaling is not supported yet");
        return architecture switch
        {
            ModelArchitecture.Mixtral => config with
            {
                ExpertIntermediateSize = f.Int("intermediate_size"),
                ExpertCount = f.Int("num_local_experts"),
                NormalizeTopKProbabilities = true,
            },
            ModelArchitecture.Qwen2Moe => ParseQwen2Moe(f, config),
            ModelArchitecture.Olmoe => ParseOlmoe(f, config),
            _ => throw new UnreachableException(),
        };
    }

    static ModelConfig ParseQwen2Moe(Fields f, ModelConfig config)
    {
        if ((f.OptionalInt("decoder_sparse_step") ?? 1) != 1 || f.IntOrIntList("mlp_only_layers").Count > 0)
            throw f.Error("dense (non-MoE) layers via decoder_sparse_step / mlp_only_layers are not supported");
        return config with
        {
            ExpertIntermediateSize = f.Int("moe_intermediate_size"),
            ExpertCount = f.Int("num_experts"),
            NormalizeTopKProbabilities = f.OptionalBool("norm_topk_prob") ?? false,
            SharedExpertIntermediateSize = f.OptionalInt("shared_expert_intermediate_size") ?? 0,
            AttentionBias = f.OptionalBool("qkv_bias") ?? true,
        };
    }

    static ModelConfig ParseOlmoe(Fields f, ModelConfig config)
    {
        if (f.Has("clip_qkv") && f.IsNonNull("clip_qkv")) throw f.Error("clip_qkv is not supported");
        return config with
        {
            ExpertIntermediateSize = f.Int("intermediate_size"),
            ExpertCount = f.Int("num_experts"),
            NormalizeTopKProbabilities = f.OptionalBool("norm_topk_prob") ?? false,
            AttentionBias = f.OptionalBool("attention_bias") ?? false,
            QueryKeyNorm = true,
        };
    }

    static string ModelType(ModelArchitecture a) => a switch
    {
        ModelArchitecture.Mixtral => "mixtral",
        ModelArchitecture.Qwen2Moe => "qwen2_moe",
        _ => "olmoe",
    };

    static string ArchitectureClass(ModelArchitecture a) => a switch
    {
        ModelArchitecture.Mixtral => "MixtralForCausalLM",
        ModelArchitecture.Qwen2Moe => "Qwen2MoeForCausalLM",
        _ => "OlmoeForCausalLM",
    };

    /// <summary>Typed access to config fields whose errors name the file and the field.</summary>
    sealed class Fields(JsonObject root, string path)
    {
        public CheckpointException Error(string message) => new(path, null, message);
        public bool Has(string name) => root.ContainsKey(name);
        public bool IsNonNull(string name) => root[name] is not null;

        public int Int(string name) => OptionalInt(name) ?? throw Error($"missing required field '{name}'");
        public string String(string name) => OptionalString(name) ?? throw Error($"missing required field '{name}'");

        public int? OptionalInt(string name) => Value(name, "an integer", (JsonValue v, out int x) => v.TryGetValue(out x));
        public double? OptionalDouble(string name) => Value(name, "a number", (JsonValue v, out double x) => v.TryGetValue(out x));
        public bool? OptionalBool(string name) => Value(name, "true or false", (JsonValue v, out bool x) => v.TryGetValue(out x));

        public string? OptionalString(string name) =>
            root[name] switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out string? s) => s,
                _ => throw Error($"field '{name}' must be a string"),
            };

        public IReadOnlyList<int> IntOrIntList(string name) =>
            root[name] switch
            {
                null => [],
                JsonArray a => a.Select(item => item is JsonValue v && v.TryGetValue(out int x)
                    ? x : throw Error($"field '{name}' must hold integers")).ToArray(),
                JsonValue v when v.TryGetValue(out int x) => [x],
                _ => throw Error($"field '{name}' must be an integer or a list of integers"),
            };

        delegate bool TryGet<T>(JsonValue value, out T result);

        T? Value<T>(string name, string expected, TryGet<T> tryGet) where T : struct =>
            root[name] switch
            {
                null => null,
                JsonValue v when tryGet(v, out T x) => x,
                _ => throw Error($"field '{name}' must be {expected}"),
            };
    }
}
