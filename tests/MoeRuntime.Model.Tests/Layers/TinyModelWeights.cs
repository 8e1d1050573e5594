using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

/// <summary>Random weights for a small config, kept as plain float arrays so a loop-only reference can use them too.</summary>
public sealed class TinyModelWeights
{
    public TinyModelWeights(ModelConfig config, ulong seed, float scale = 0.5f, float embeddingScale = 1f)
    {
        Config = config;
        var random = new TokenRandom(seed);
        var names = new CheckpointTensorNames(config.Architecture);
        int h = config.HiddenSize, v = config.VocabularySize, i = config.ExpertIntermediateSize;
        int q = config.AttentionHeadCount * config.HeadDimension, kv = config.KeyValueHeadCount * config.HeadDimension;

        void Add(string name, float s, params int[] shape)
        {
            var data = new float[shape.Aggregate(1, (a, b) => a * b)];
            for (int k = 0; k < data.Length; k++) data[k] = (float)((random.NextDouble() * 2 - 1) * s);
            Arrays[name] = data;
            Shapes[name] = shape;
        }
        void Norm(string name, int size)
        {
            Add(name, 0.2f, size);
            for (int k = 0; k < size; k++) Arrays[name][k] += 1f;
        }

        Add(CheckpointTensorNames.Embedding, embeddingScale, v, h);
        for (int l = 0; l < config.LayerCount; l++)
        {
            Norm(CheckpointTensorNames.InputNorm(l), h);
            Norm(CheckpointTensorNames.PostAttentionNorm(l), h);
            Add(CheckpointTensorNames.Attention(l, 'q'), scale, q, h);
            Add(CheckpointTensorNames.Attention(l, 'k'), scale, kv, h);
            Add(CheckpointTensorNames.Attention(l, 'v'), scale, kv, h);
            Add(CheckpointTensorNames.Attention(l, 'o'), scale, h, q);
            if (config.AttentionBias)
            {
                Add(CheckpointTensorNames.AttentionBias(l, 'q'), scale, q);
                Add(CheckpointTensorNames.AttentionBias(l, 'k'), scale, kv);
                Add(CheckpointTensorNames.AttentionBias(l, 'v'), scale, kv);
            }
            if (config.OutputBias) Add(CheckpointTensorNames.AttentionBias(l, 'o'), scale, h);
            if (config.QueryKeyNorm)
            {
                Norm(CheckpointTensorNames.AttentionNorm(l, 'q'), q);
                Norm(CheckpointTensorNames.AttentionNorm(l, 'k'), kv);
            }
            if (config.PerHeadQueryKeyNorm)
            {
                Norm(CheckpointTensorNames.AttentionNorm(l, 'q'), config.HeadDimension);
                Norm(CheckpointTensorNames.AttentionNorm(l, 'k'), config.HeadDimension);
            }
            Add(names.Gate(l), 1f, config.ExpertCount, h);
            for (int e = 0; e < config.ExpertCount; e++)
            {
                var (w1, w2, w3) = names.Expert(l, e);
                Add(w1, scale, i, h);
                Add(w2, scale, h, i);
                Add(w3, scale, i, h);
            }
            if (config.SharedExpertIntermediateSize > 0)
            {
                var (w1, w2, w3) = names.SharedExpert(l);
                int s = config.SharedExpertIntermediateSize;
                Add(w1, scale, s, h);
                Add(w2, scale, h, s);
                Add(w3, scale, s, h);
                Add(names.SharedExpertGate(l), scale, 1, h);
            }
        }
        Norm(CheckpointTensorNames.FinalNorm, h);
        if (!config.TieWordEmbeddings) Add(CheckpointTensorNames.LmHead, scale, v, h);
    }

    public ModelConfig Config { get; }
    public Dictionary<string, float[]> Arrays { get; } = [];
    public Dictionary<string, int[]> Shapes { get; } = [];

    public InMemoryTensorSource ToSource()
    {
        var source = new InMemoryTensorSource();
        foreach (var (name, data) in Arrays)
            source.Add(name, tensor(data, Shapes[name].Select(d => (long)d).ToArray()));
        return source;
    }

    public MoeModel BuildModel()
    {
        using InMemoryTensorSource source = ToSource();
        return MoeModelAssembler.Assemble(Config, source, CPU);
    }

    public static ModelConfig TinyConfig(ModelArchitecture architecture = ModelArchitecture.Mixtral) => new()
    {
        Architecture = architecture,
        VocabularySize = 16,
        HiddenSize = 8,
        ExpertIntermediateSize = 6,
        LayerCount = 2,
        AttentionHeadCount = 2,
        KeyValueHeadCount = 1,
        HeadDimension = 4,
        ExpertCount = 4,
        ExpertsPerToken = 2,
        RmsNormEpsilon = 1e-5,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 64,
        NormalizeTopKProbabilities = architecture is ModelArchitecture.Mixtral or ModelArchitecture.Qwen3Moe,
        SharedExpertIntermediateSize = architecture == ModelArchitecture.Qwen2Moe ? 5 : 0,
        AttentionBias = architecture == ModelArchitecture.Qwen2Moe,
        QueryKeyNorm = architecture == ModelArchitecture.Olmoe,
        PerHeadQueryKeyNorm = architecture == ModelArchitecture.Qwen3Moe,
        OutputBias = false,
        EndOfSequenceTokenIds = [1],
    };
}
