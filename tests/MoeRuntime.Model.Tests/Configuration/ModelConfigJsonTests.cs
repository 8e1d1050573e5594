using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;

namespace MoeRuntime.Model.Tests.Configuration;

public class ModelConfigJsonTests
{
    const string Mixtral = """
        {"architectures":["MixtralForCausalLM"],"model_type":"mixtral","vocab_size":32000,"hidden_size":4096,
         "intermediate_size":14336,"num_hidden_layers":32,"num_attention_heads":32,"num_key_value_heads":8,
         "num_local_experts":8,"num_experts_per_tok":2,"rms_norm_eps":1e-05,"rope_theta":1000000.0,
         "max_position_embeddings":32768,"bos_token_id":1,"eos_token_id":2,"tie_word_embeddings":false,
         "torch_dtype":"bfloat16","hidden_act":"silu","sliding_window":null}
        """;

    const string Qwen2Moe = """
        {"model_type":"qwen2_moe","vocab_size":151936,"hidden_size":2048,"intermediate_size":5632,
         "moe_intermediate_size":1408,"shared_expert_intermediate_size":5632,"num_hidden_layers":24,
         "num_attention_heads":16,"num_key_value_heads":16,"num_experts":60,"num_experts_per_tok":4,
         "norm_topk_prob":false,"decoder_sparse_step":1,"mlp_only_layers":[],"rms_norm_eps":1e-06,
         "rope_theta":1000000.0,"max_position_embeddings":8192,"bos_token_id":151643,"eos_token_id":151643,
         "tie_word_embeddings":false,"torch_dtype":"bfloat16"}
        """;

    const string Olmoe = """
        {"model_type":"olmoe","vocab_size":50304,"hidden_size":2048,"intermediate_size":1024,"num_hidden_layers":16,
         "num_attention_heads":16,"num_key_value_heads":16,"num_experts":64,"num_experts_per_tok":8,
         "norm_topk_prob":false,"rms_norm_eps":1e-05,"rope_theta":10000.0,"max_position_embeddings":4096,
         "eos_token_id":50279,"pad_token_id":1,"clip_qkv":null,"attention_bias":false,"torch_dtype":"bfloat16"}
        """;

    [Fact]
    public void ReadsMixtralFields()
    {
        using var dir = new TempDirectory().With("config.json", Mixtral);
        ModelConfig c = ModelConfigJson.Load(dir.Path);
        Assert.Equal(ModelArchitecture.Mixtral, c.Architecture);
        Assert.Equal((4096, 14336, 32, 32, 8, 128, 8, 2), (c.HiddenSize, c.ExpertIntermediateSize, c.LayerCount, c.AttentionHeadCount, c.KeyValueHeadCount, c.HeadDimension, c.ExpertCount, c.ExpertsPerToken));
        Assert.True(c.NormalizeTopKProbabilities);
        Assert.Equal(1e6, c.RopeTheta);
        Assert.Equal([2], c.EndOfSequenceTokenIds);
        Assert.Equal("bfloat16", c.StorageDType);
    }

    [Fact]
    public void ReadsQwen2MoeSharedExpertAndTopKNormalisation()
    {
        using var dir = new TempDirectory().With("config.json", Qwen2Moe);
        ModelConfig c = ModelConfigJson.Load(dir.Path);
        Assert.Equal(ModelArchitecture.Qwen2Moe, c.Architecture);
        Assert.Equal((1408, 5632, 60, 4), (c.ExpertIntermediateSize, c.SharedExpertIntermediateSize, c.ExpertCount, c.ExpertsPerToken));
        Assert.False(c.NormalizeTopKProbabilities);
        Assert.True(c.AttentionBias);
    }

    [Fact]
    public void ReadsOlmoeQueryKeyNorm()
    {
        using var dir = new TempDirectory().With("config.json", Olmoe);
        ModelConfig c = ModelConfigJson.Load(dir.Path);
        Assert.Equal(ModelArchitecture.Olmoe, c.Architecture);
        Assert.True(c.QueryKeyNorm);
        Assert.False(c.AttentionBias);
        Assert.Equal((1024, 64, 8), (c.ExpertIntermediateSize, c.ExpertCount, c.ExpertsPerToken));
    }

    [Fact]
    public void AnAbsentFieldMeansWhatTransformersConfigurationClassSaysPerModelType()
    {
        // Values read from transformers' configuration_mixtral/qwen2_moe/olmoe/qwen3_moe.py.
        var expected = new (string Type, int Vocab, int Hidden, int Inter, int Layers, int Heads, int KvHeads, int MaxPos, double Eps, double Theta, int Experts, int TopK, int Shared, int? Bos, int[] Eos)[]
        {
            ("mixtral", 32000, 4096, 14336, 32, 32, 8, 131072, 1e-5, 1e6, 8, 2, 0, 1, [2]),
            ("qwen2_moe", 151936, 2048, 1408, 24, 16, 16, 32768, 1e-6, 10000, 60, 4, 5632, null, []),
            ("olmoe", 50304, 2048, 2048, 16, 16, 16, 4096, 1e-5, 10000, 64, 8, 0, null, [50279]),
            ("qwen3_moe", 151936, 2048, 768, 24, 32, 4, 32768, 1e-6, 10000, 128, 8, 0, null, []),
        };
        foreach (var e in expected)
        {
            using var dir = new TempDirectory().With("config.json", $"{{\"model_type\":\"{e.Type}\"}}");
            ModelConfig c = ModelConfigJson.Load(dir.Path);
            Assert.Equal((e.Vocab, e.Hidden, e.Inter, e.Layers, e.Heads, e.KvHeads, e.MaxPos, e.Eps, e.Theta, e.Experts, e.TopK, e.Shared, e.Bos),
                (c.VocabularySize, c.HiddenSize, c.ExpertIntermediateSize, c.LayerCount, c.AttentionHeadCount, c.KeyValueHeadCount, c.MaxPositionEmbeddings,
                 c.RmsNormEpsilon, c.RopeTheta, c.ExpertCount, c.ExpertsPerToken, c.SharedExpertIntermediateSize, c.BeginOfSequenceTokenId));
            Assert.Equal(e.Eos, c.EndOfSequenceTokenIds);
            Assert.Equal(c.HiddenSize / c.AttentionHeadCount, c.HeadDimension);
            Assert.Equal(RopeScaling.None, c.RopeScaling);
            Assert.Null(c.SlidingWindow);
        }
    }

    [Fact]
    public void RopeParametersAndRopeScalingThatAgreeAreAccepted()
    {
        using var dir = new TempDirectory().With("config.json",
            Mixtral.Replace("\"rope_theta\":1000000.0", "\"rope_theta\":1000000.0,\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0},\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":2.0,\"rope_theta\":1000000.0}"));
        ModelConfig c = ModelConfigJson.Load(dir.Path);
        Assert.Equal(new RopeScaling(RopeScalingType.Linear, 2), c.RopeScaling);
    }

    [Fact]
    public void RopeThetaIsReadFromRopeParametersBeforeTheTopLevel()
    {
        using var dir = new TempDirectory().With("config.json",
            Mixtral.Replace("\"rope_theta\":1000000.0", "\"rope_theta\":1000000.0,\"rope_parameters\":{\"rope_type\":\"dynamic\",\"factor\":2.0,\"rope_theta\":20000.0}"));
        ModelConfig c = ModelConfigJson.Load(dir.Path);
        Assert.Equal(20000, c.RopeTheta);
        Assert.Equal(new RopeScaling(RopeScalingType.Dynamic, 2), c.RopeScaling);
        Assert.Equal(2 * 32768, c.MaxSequenceLength);
    }

    [Theory]
    [InlineData(ModelArchitecture.Mixtral)]
    [InlineData(ModelArchitecture.Qwen2Moe)]
    [InlineData(ModelArchitecture.Olmoe)]
    [InlineData(ModelArchitecture.Qwen3Moe)]
    public void SaveThenLoadGivesTheSameConfig(ModelArchitecture architecture)
    {
        using var dir = new TempDirectory();
        ModelConfig config = Layers.TinyModelWeights.TinyConfig(architecture) with { BeginOfSequenceTokenId = 2, TokenizerClass = "ByteLevelTokenizer" };
        ModelConfigJson.Save(config, dir.Path);
        ModelConfig loaded = ModelConfigJson.Load(dir.Path);
        Assert.Equal(config with { EndOfSequenceTokenIds = [] }, loaded with { EndOfSequenceTokenIds = [] });
        Assert.Equal(config.EndOfSequenceTokenIds, loaded.EndOfSequenceTokenIds);
    }

    [Theory]
    [InlineData("{\"model_type\": \"mixtral\",", "not valid JSON")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("{\"model_type\":\"llama\"}", "model_type 'llama' is not supported")]
    [InlineData("{\"vocab_size\":10}", "missing required field 'model_type'")]
    [InlineData("{\"model_type\":\"mixtral\",\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}", "rope_scaling type 'yarn' is not supported")]
    [InlineData("{\"model_type\":\"mixtral\",\"rope_scaling\":{\"rope_type\":\"linear\"}}", "needs a 'factor'")]
    [InlineData("{\"model_type\":\"mixtral\",\"rope_scaling\":{\"rope_type\":\"linear\",\"factor\":2},\"rope_parameters\":{\"rope_type\":\"linear\",\"factor\":4}}", "rope_parameters and rope_scaling disagree")]
    [InlineData("{\"model_type\":\"olmoe\",\"rope_parameters\":{\"rope_theta\":\"big\"}}", "'rope_parameters.rope_theta' must be a number")]
    [InlineData("{\"model_type\":\"mixtral\",\"hidden_size\":\"ten\"}", "field 'hidden_size' must be an integer")]
    public void MalformedConfigsNameTheFileAndTheProblem(string json, string problem)
    {
        using var dir = new TempDirectory().With("config.json", json);
        var error = Assert.Throws<CheckpointException>(() => ModelConfigJson.Load(dir.Path));
        Assert.Contains(dir.File("config.json"), error.Message);
        Assert.Contains(problem, error.Message);
    }

    [Fact]
    public void InconsistentShapesAreRefused()
    {
        using var dir = new TempDirectory().With("config.json", Mixtral.Replace("\"num_key_value_heads\":8", "\"num_key_value_heads\":5"));
        var error = Assert.Throws<CheckpointException>(() => ModelConfigJson.Load(dir.Path));
        Assert.Contains("multiple of num_key_value_heads", error.Message);
    }

    [Fact]
    public void AMissingConfigNamesThePath()
    {
        using var dir = new TempDirectory();
        var error = Assert.Throws<CheckpointException>(() => ModelConfigJson.Load(dir.Path));
        Assert.Contains(dir.File("config.json"), error.Message);
    }
}
