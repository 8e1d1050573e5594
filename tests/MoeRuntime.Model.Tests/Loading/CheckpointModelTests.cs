using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tests.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Loading;

/// <summary>Whole models through checkpoint files: round trips, single-expert reads and bad checkpoints.</summary>
public class CheckpointModelTests
{
    static readonly int[] Sequence = [1, 5, 9, 3, 3, 14];

    static void WriteCheckpoint(TinyModelWeights weights, string directory, ScalarType dtype, Func<string, bool>? keep = null)
    {
        using InMemoryTensorSource source = weights.ToSource();
        using var scope = NewDisposeScope();
        var tensors = source.Tensors.Where(t => keep?.Invoke(t.Key) ?? true)
            .Select(t => KeyValuePair.Create(t.Key, t.Value.to(dtype))).ToArray();
        SafetensorsWriter.WriteSharded(directory, tensors, maxShardBytes: 4096);
        ModelConfigJson.Save(weights.Config, directory);
    }

    static float[] Logits(MoeModel model)
    {
        using KvCache cache = model.CreateCache();
        using var scope = NewDisposeScope();
        return model.Forward([new SequenceStep(cache, Sequence)], allPositions: true).data<float>().ToArray();
    }

    [Theory]
    [InlineData(ModelArchitecture.Mixtral)]
    [InlineData(ModelArchitecture.Qwen2Moe)]
    [InlineData(ModelArchitecture.Olmoe)]
    public void AModelWrittenAndReadBackComputesBitIdenticalLogits(ModelArchitecture architecture)
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(architecture), seed: 21);
        using var dir = new TempDirectory();
        WriteCheckpoint(weights, dir.Path, ScalarType.Float32);
        Assert.True(Directory.GetFiles(dir.Path, "*.safetensors").Length > 1, "the test should cover a sharded checkpoint");

        using MoeModel inMemory = weights.BuildModel();
        using MoeModel loaded = ModelLoader.Load(dir.Path, CPU);
        Assert.Equal(Logits(inMemory), Logits(loaded));
    }

    [Fact]
    public void BFloat16WeightsReadBackBitExact()
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(), seed: 22);
        using var dir = new TempDirectory();
        WriteCheckpoint(weights, dir.Path, ScalarType.BFloat16);
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        using InMemoryTensorSource source = weights.ToSource();
        foreach (var (name, original) in source.Tensors)
        {
            Assert.Equal(TensorDType.BF16, checkpoint.Entry(name).DType);
            using Tensor expected = original.to(ScalarType.BFloat16);
            using Tensor actual = checkpoint.ReadTensor(name);
            Assert.Equal(expected.bytes.ToArray(), actual.bytes.ToArray());
        }
    }

    [Fact]
    public void LoadingOneExpertReadsOnlyItsByteRanges()
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(), seed: 23);
        using var dir = new TempDirectory();
        WriteCheckpoint(weights, dir.Path, ScalarType.Float32);
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        var (w1, w2, w3) = new CheckpointTensorNames(ModelArchitecture.Mixtral).Expert(1, 2);

        using ExpertFfn expert = MoeModelAssembler.LoadExpert(weights.Config, checkpoint, layer: 1, expert: 2, CPU);

        long expected = checkpoint.Entry(w1).Length + checkpoint.Entry(w2).Length + checkpoint.Entry(w3).Length;
        Assert.Equal(expected, checkpoint.BytesRead);
        long whole = checkpoint.Tensors.Values.Sum(e => e.Length);
        Assert.True(checkpoint.BytesRead < whole / 10, $"read {checkpoint.BytesRead} of {whole} bytes");
        Assert.Equal(weights.Config.HiddenSize, expert.HiddenSize);
    }

    [Fact]
    public void AMissingExpertTensorNamesTheIndexAndTheTensor()
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(), seed: 24);
        string missing = new CheckpointTensorNames(ModelArchitecture.Mixtral).Expert(1, 3).W2;
        using var dir = new TempDirectory();
        WriteCheckpoint(weights, dir.Path, ScalarType.Float32, keep: name => name != missing);

        var error = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir.Path, CPU));
        Assert.Contains("model.safetensors.index.json", error.Message);
        Assert.Contains(missing, error.Message);
    }

    [Fact]
    public void AWrongShapeNamesTheShardTheTensorAndBothShapes()
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(), seed: 25);
        using var dir = new TempDirectory();
        WriteCheckpoint(weights, dir.Path, ScalarType.Float32);
        ModelConfigJson.Save(weights.Config with { ExpertIntermediateSize = 7 }, dir.Path);

        var error = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir.Path, CPU));
        Assert.Contains(".safetensors", error.Message);
        Assert.Contains("experts.0.w1.weight", error.Message);
        Assert.Contains("[6, 8]", error.Message);
        Assert.Contains("[7, 8]", error.Message);
    }

    [Fact]
    public void ATruncatedShardNamesTheShard()
    {
        var weights = new TinyModelWeights(TinyModelWeights.TinyConfig(), seed: 26);
        using var dir = new TempDirectory();
        WriteCheckpoint(weights, dir.Path, ScalarType.Float32);
        string shard = Directory.GetFiles(dir.Path, "*.safetensors").Order().Last();
        using (var stream = new FileStream(shard, FileMode.Open)) stream.SetLength(stream.Length - 10);

        var error = Assert.Throws<CheckpointException>(() => ModelLoader.Load(dir.Path, CPU));
        Assert.Contains(Path.GetFileName(shard), error.Message);
    }
}
