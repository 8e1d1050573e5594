using System.Text.Json;
using System.Diagnostics;
using MoeRuntime.Model.Checkpoints;
using System.Text.Json.Nodes;

namespace MoeRuntime.Model.Configuration;

/// <summary>
/// Reads and writes <c>config.json</c> in the Hugging Face layout of Mixtral, Qwen2-MoE, OLMoE and Qwen3-MoE.
/// An absent field means what transformers' configuration class for the <c>model_type</c> says (see
/// <see cref="ArchitectureDefaults"/>); a field this runtime cannot honour is refused by name (docs/architectures.md).
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
            ["rope_scaling"] = config.RopeScaling.Type == RopeScalingType.None ? null : new JsonObject
            {
                ["rope_type"] = config.RopeScaling.Type == RopeScalingType.Linear ? "linear" : "dynamic",
                ["factor"] = config.RopeScaling.Factor,
            },
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
                root["sliding_window"] = config.SlidingWindow;
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
                root["clip_qkv"] = config.ClipQkv;
                break;
            case ModelArchitecture.Qwen3Moe:
                root["moe_intermediate_size"] = config.ExpertIntermediateSize;
                root["num_experts"] = config.ExpertCount;
                root["norm_topk_prob"] = config.NormalizeTopKProbabilities;
                root["attention_bias"] = config.AttentionBias;
                root["decoder_sparse_step"] = 1;
                root["mlp_only_layers"] = new JsonArray();
                break;
        }
        // Written even when absent: an absent field would mean the architecture's default id.
        root["bos_token_id"] = config.BeginOfSequenceTokenId;
        if (config.EndOfSequenceTokenIds.Count == 0) root["eos_token_id"] = null;
        else if (config.EndOfSequenceTokenIds.Count == 1) root["eos_token_id"] = config.EndOfSequenceTokenIds[0];
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
        ArchitectureDefaults d = ArchitectureDefaults.For(modelType)
            ?? throw f.Error($"model_type '{modelType}' is not supported (mixtral, qwen2_moe, olmoe, qwen3_moe are)");
        string act = f.OptionalString("hidden_act") ?? "silu";
        if (act != "silu") throw f.Error($"hidden_act '{act}' is not supported (only silu, as SwiGLU experts need)");

        int hidden = f.OptionalInt("hidden_size") ?? d.HiddenSize;
        int heads = f.OptionalInt("num_attention_heads") ?? d.AttentionHeads;
        int maxPositions = f.OptionalInt("max_position_embeddings") ?? d.MaxPositionEmbeddings;
        var (theta, scaling) = ParseRope(f, d);
        int? bos = f.Has("bos_token_id") ? f.OptionalInt("bos_token_id") : d.BeginOfSequenceId;
        IReadOnlyList<int> eos = f.Has("eos_token_id") ? f.IntOrIntList("eos_token_id") : d.EndOfSequenceIds;
        var config = new ModelConfig
        {
            Architecture = d.Architecture,
            VocabularySize = f.OptionalInt("vocab_size") ?? d.VocabularySize,
            HiddenSize = hidden,
            LayerCount = f.OptionalInt("num_hidden_layers") ?? d.Layers,
            AttentionHeadCount = heads,
            // OLMoE's default (null) means one key/value head per attention head.
            KeyValueHeadCount = f.OptionalInt("num_key_value_heads") ?? d.KeyValueHeads ?? heads,
            HeadDimension = f.OptionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
            ExpertsPerToken = f.OptionalInt("num_experts_per_tok") ?? d.ExpertsPerToken,
            ExpertCount = f.OptionalInt(d.ExpertCountField) ?? f.OptionalInt(d.ExpertCountAlias) ?? d.ExpertCount,
            ExpertIntermediateSize = f.OptionalInt(d.ExpertIntermediateField) ?? d.ExpertIntermediateSize,
            RmsNormEpsilon = f.OptionalDouble("rms_norm_eps") ?? d.RmsNormEpsilon,
            RopeTheta = theta,
            RopeScaling = scaling,
            MaxPositionEmbeddings = maxPositions,
            TieWordEmbeddings = f.OptionalBool("tie_word_embeddings") ?? false,
            BeginOfSequenceTokenId = bos,
            EndOfSequenceTokenIds = eos,
            StorageDType = f.OptionalString("torch_dtype") ?? f.OptionalString("dtype") ?? "float32",
            TokenizerClass = f.OptionalString("tokenizer_class"),
        };
        return d.Architecture switch
        {
            ModelArchitecture.Mixtral => config with
            {
                NormalizeTopKProbabilities = true,
                SlidingWindow = f.OptionalInt("sliding_window"),
            },
            ModelArchitecture.Qwen2Moe => ParseQwen2Moe(f, config, d),
            ModelArchitecture.Olmoe => ParseOlmoe(f, config),
            ModelArchitecture.Qwen3Moe => ParseQwen3Moe(f, config),
            _ => throw new UnreachableException(),
        };
    }

    /// <summary>
    /// Rotary settings as transformers standardises them: <c>rope_parameters</c> (newer files) or the legacy
    /// <c>rope_scaling</c> object, with <c>rope_theta</c> inside it, else at the top level, else the architecture's default.
    /// </summary>
    static (double Theta, RopeScaling Scaling) ParseRope(Fields f, ArchitectureDefaults d)
    {
        if (f.OptionalDouble("partial_rotary_factor") is { } topPartial && topPartial != 1)
            throw f.Error($"partial_rotary_factor {topPartial} is not supported (only 1: the rotary embedding covers the whole head)");
        JsonObject? parameters = f.OptionalObject("rope_parameters");
        JsonObject? legacy = f.OptionalObject("rope_scaling");
        if (parameters is null || legacy is null) return ParseRope(f, d, parameters ?? legacy, parameters is not null ? "rope_parameters" : "rope_scaling");
        var fromParameters = ParseRope(f, d, parameters, "rope_parameters");
        var fromLegacy = ParseRope(f, d, legacy, "rope_scaling");
        if (fromParameters != fromLegacy)
            throw f.Error($"rope_parameters and rope_scaling disagree (theta {fromParameters.Theta} vs {fromLegacy.Theta}, "
                + $"{fromParameters.Scaling} vs {fromLegacy.Scaling}); a config should have one of them");
        return fromParameters;
    }

    static (double Theta, RopeScaling Scaling) ParseRope(Fields f, ArchitectureDefaults d, JsonObject? rope, string where)
    {
        double theta = f.OptionalDouble(rope, where, "rope_theta") ?? f.OptionalDouble("rope_theta") ?? d.RopeTheta;
        if (rope is null) return (theta, RopeScaling.None);

        string type = f.OptionalString(rope, where, "rope_type") ?? f.OptionalString(rope, where, "type") ?? "default";
        if (f.OptionalDouble(rope, where, "partial_rotary_factor") is { } partial && partial != 1)
            throw f.Error($"{where}.partial_rotary_factor {partial} is not supported (only 1)");
        RopeScalingType kind = type switch
        {
            "default" => RopeScalingType.None,
            "linear" => RopeScalingType.Linear,
            "dynamic" => RopeScalingType.Dynamic,
            _ => throw f.Error($"{where} type '{type}' is not supported (default, linear and dynamic are; yarn, longrope and llama3 are refused rather than computed differently from transformers)"),
        };
        if (kind == RopeScalingType.None) return (theta, RopeScaling.None);
        double factor = f.OptionalDouble(rope, where, "factor") ?? throw f.Error($"{where} type '{type}' needs a 'factor'");
        if (kind == RopeScalingType.Dynamic
            && f.OptionalInt(rope, where, "original_max_position_embeddings") is { } original
            && original != (f.OptionalInt("max_position_embeddings") ?? d.MaxPositionEmbeddings))
            throw f.Error($"{where}.original_max_position_embeddings ({original}) differing from max_position_embeddings is not supported for dynamic scaling");
        return (theta, new RopeScaling(kind, factor));
    }

    static IReadOnlyList<int> DenseLayers(Fields f, int layerCount)
    {
        int step = f.OptionalInt("decoder_sparse_step") ?? 1;
        if (step <= 0) throw f.Error($"decoder_sparse_step must be positive (is {step})");
        IReadOnlyList<int> mlpOnly = f.IntOrIntList("mlp_only_layers");
        return Enumerable.Range(0, layerCount).Where(l => mlpOnly.Contains(l) || (l + 1) % step != 0).ToArray();
    }

    static void RefuseDenseLayers(Fields f, ModelConfig config)
    {
        IReadOnlyList<int> dense = DenseLayers(f, config.LayerCount);
        if (dense.Count > 0)
            throw f.Error($"dense (non-MoE) layers {string.Join(", ", dense)} set by decoder_sparse_step / mlp_only_layers are not supported");
    }

    static void RefuseSlidingWindowLayers(Fields f)
    {
        if (f.OptionalBool("use_sliding_window") == true)
            throw f.Error("use_sliding_window true is not supported for this architecture");
        if (f.OptionalStringList("layer_types") is { } types && types.FirstOrDefault(t => t != "full_attention") is { } other)
            throw f.Error($"layer_types '{other}' is not supported (only full_attention)");
    }

    static ModelConfig ParseQwen2Moe(Fields f, ModelConfig config, ArchitectureDefaults d)
    {
        RefuseDenseLayers(f, config);
        RefuseSlidingWindowLayers(f);
        return config with
        {
            NormalizeTopKProbabilities = f.OptionalBool("norm_topk_prob") ?? false,
            SharedExpertIntermediateSize = f.OptionalInt("shared_expert_intermediate_size") ?? d.SharedExpertIntermediateSize,
            AttentionBias = f.OptionalBool("qkv_bias") ?? true,
        };
    }

    static ModelConfig ParseOlmoe(Fields f, ModelConfig config)
    {
        bool bias = f.OptionalBool("attention_bias") ?? false;
        double? clip = f.OptionalDouble("clip_qkv");
        if (clip is <= 0) throw f.Error($"clip_qkv must be positive (is {clip})");
        return config with
        {
            NormalizeTopKProbabilities = f.OptionalBool("norm_topk_prob") ?? false,
            AttentionBias = bias,
            OutputBias = bias,
            QueryKeyNorm = true,
            ClipQkv = clip,
        };
    }

    static ModelConfig ParseQwen3Moe(Fields f, ModelConfig config)
    {
        RefuseDenseLayers(f, config);
        RefuseSlidingWindowLayers(f);
        bool bias = f.OptionalBool("attention_bias") ?? false;
        return config with
        {
            NormalizeTopKProbabilities = f.OptionalBool("norm_topk_prob") ?? false,
            AttentionBias = bias,
            OutputBias = bias,
            PerHeadQueryKeyNorm = true,
        };
    }

    static string ModelType(ModelArchitecture a) => a switch
    {
        ModelArchitecture.Mixtral => "mixtral",
        ModelArchitecture.Qwen2Moe => "qwen2_moe",
        ModelArchitecture.Qwen3Moe => "qwen3_moe",
        _ => "olmoe",
    };

    static string ArchitectureClass(ModelArchitecture a) => a switch
    {
        ModelArchitecture.Mixtral => "MixtralForCausalLM",
        ModelArchitecture.Qwen2Moe => "Qwen2MoeForCausalLM",
        ModelArchitecture.Qwen3Moe => "Qwen3MoeForCausalLM",
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

        public JsonObject? OptionalObject(string name) =>
            root[name] switch
            {
                null => null,
                JsonObject o => o,
                _ => throw Error($"field '{name}' must be an object"),
            };

        public IReadOnlyList<string>? OptionalStringList(string name) =>
            root[name] switch
            {
                null => null,
                JsonArray a => a.Select(item => item is JsonValue v && v.TryGetValue(out string? x)
                    ? x : throw Error($"field '{name}' must hold strings")).ToArray(),
                _ => throw Error($"field '{name}' must be a list of strings"),
            };

        public double? OptionalDouble(JsonObject? o, string where, string name) =>
            o?[name] switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out double x) => x,
                _ => throw Error($"field '{where}.{name}' must be a number"),
            };

        public int? OptionalInt(JsonObject? o, string where, string name) =>
            o?[name] switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out int x) => x,
                _ => throw Error($"field '{where}.{name}' must be an integer"),
            };

        public string? OptionalString(JsonObject? o, string where, string name) =>
            o?[name] switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out string? x) => x,
                _ => throw Error($"field '{where}.{name}' must be a string"),
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
