using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Loading;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>A checkpoint holding only routed experts, small and in any stored dtype, spread over several shards.</summary>
static class TinyExpertCheckpoint
{
    public static ModelConfig Config(ScalarType dtype) => new()
    {
        VocabularySize = 16,
        HiddenSize = 8,
        ExpertIntermediateSize = 12,
        LayerCount = 2,
        AttentionHeadCount = 2,
        KeyValueHeadCount = 1,
        HeadDimension = 4,
        ExpertCount = 3,
        ExpertsPerToken = 1,
        StorageDType = dtype.ToString().ToLowerInvariant(),
    };

    public static void Write(string directory, ScalarType dtype, int seed)
    {
        ModelConfig config = Config(dtype);
        var names = new CheckpointTensorNames(config.Architecture);
        var random = new Random(seed);
        using var scope = NewDisposeScope();
        var tensors = new List<KeyValuePair<string, Tensor>>();
        long h = config.HiddenSize, i = config.ExpertIntermediateSize;
        for (int layer = 0; layer < config.LayerCount; layer++)
            for (int expert = 0; expert < config.ExpertCount; expert++)
            {
                var (w1, w2, w3) = names.Expert(layer, expert);
                tensors.Add(new(w1, Random(random, [i, h]).to(dtype)));
                tensors.Add(new(w2, Random(random, [h, i]).to(dtype)));
                tensors.Add(new(w3, Random(random, [i, h]).to(dtype)));
            }
        SafetensorsWriter.WriteSharded(directory, tensors, maxShardBytes: 1024);
        ModelConfigJson.Save(config, directory);
    }

    static Tensor Random(Random random, long[] shape)
    {
        var data = new float[shape[0] * shape[1]];
        for (int k = 0; k < data.Length; k++) data[k] = (float)(random.NextDouble() * 2 - 1);
        return tensor(data, shape);
    }
}
