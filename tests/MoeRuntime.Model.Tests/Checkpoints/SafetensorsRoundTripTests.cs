using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MoeRuntime.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Checkpoints;

public class SafetensorsRoundTripTests
{
    [Fact]
    public void ShardedCheckpointReadsBackBitExactWithEachTensorInItsShard()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("embed.f32", randn(new long[] { 3, 4 }, ScalarType.Float32)),        // 48 bytes, shard 1
            new("norm.f16", randn(new long[] { 5 }, ScalarType.Float16)),            // 10 bytes, shard 1 (58)
            new("experts.0.bf16", randn(new long[] { 2, 3, 4 }, ScalarType.BFloat16)), // 48 bytes, shard 2
            new("empty.f32", empty(new long[] { 0, 4 }, ScalarType.Float32)),        // 0 bytes, shard 2
            new("big.f32", randn(new long[] { 40 }, ScalarType.Float32)),            // 160 bytes > max: shard 3 alone
            new("tail.bf16", randn(new long[] { 3 }, ScalarType.BFloat16)),          // 6 bytes, shard 4
            new("scalar.f32", tensor(2.5f)),                                       // 4 bytes, shard 4
        };

        SafetensorsWriter.WriteSharded(dir.Path, tensors, maxShardBytes: 64);

        var expectedShards = new Dictionary<string, int>
        {
            ["embed.f32"] = 1, ["norm.f16"] = 1, ["experts.0.bf16"] = 2, ["empty.f32"] = 2,
            ["big.f32"] = 3, ["tail.bf16"] = 4, ["scalar.f32"] = 4,
        };
        using var index = JsonDocument.Parse(File.ReadAllBytes(dir.File("model.safetensors.index.json")));
        Assert.Equal(276, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        var weightMap = index.RootElement.GetProperty("weight_map").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(
            expectedShards.ToDictionary(p => p.Key, p => (string?)$"model-{p.Value:D5}-of-00004.safetensors"),
            weightMap);
        Assert.False(File.Exists(dir.File("model.safetensors")));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(tensors.Select(t => t.Key).Order(), checkpoint.Tensors.Keys.Order());
        foreach (var (name, original) in tensors)
        {
            Assert.Equal(dir.File(weightMap[name]!), checkpoint.Entry(name).File);
            var read = checkpoint.ReadTensor(name, original.shape);
            Assert.Equal(original.dtype, read.dtype);
            Assert.Equal(original.shape, read.shape);
            Assert.Equal(original.bytes.ToArray(), read.bytes.ToArray());
        }
    }

    [Fact]
    public void SingleShardIsWrittenAsModelSafetensorsWithoutIndex()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var original = randn(new long[] { 2, 2 }, ScalarType.BFloat16);

        SafetensorsWriter.WriteSharded(dir.Path, [new("w", original)], maxShardBytes: 1 << 20);

        Assert.Equal([dir.File("model.safetensors")], Directory.GetFiles(dir.Path));
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(original.bytes.ToArray(), checkpoint.ReadTensor("w").bytes.ToArray());
    }

    [Fact]
    public void WrittenFileFollowsTheSafetensorsLayout()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        string path = dir.File("layout.safetensors");
        var a = randn(new long[] { 2, 2 }, ScalarType.BFloat16);
        var b = randn(new long[] { 3 }, ScalarType.Float32);

        SafetensorsWriter.Write(path, [new("a", a), new("b", b)], new Dictionary<string, string> { ["format"] = "pt" });

        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        Assert.Equal(0, (8 + headerLength) % 8);
        Assert.Equal(8 + headerLength + 8 + 12, file.Length);
        string header = Encoding.UTF8.GetString(file, 8, (int)headerLength);
        Assert.StartsWith("{", header);
        Assert.Matches("} *$", header);
        using var json = JsonDocument.Parse(header);
        var root = json.RootElement;
        Assert.Equal("pt", root.GetProperty("__metadata__").GetProperty("format").GetString());
        Assert.Equal("BF16", root.GetProperty("a").GetProperty("dtype").GetString());
        Assert.Equal([2L, 2L], root.GetProperty("a").GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([0L, 8L], root.GetProperty("a").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal("F32", root.GetProperty("b").GetProperty("dtype").GetString());
        Assert.Equal([8L, 20L], root.GetProperty("b").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal(a.bytes.ToArray(), file[(int)(8 + headerLength)..(int)(8 + headerLength + 8)]);
        Assert.Equal(b.bytes.ToArray(), file[(int)(8 + headerLength + 8)..]);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void NonContiguousTensorsAreWrittenInLogicalOrder()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var transposed = arange(12, ScalarType.Float32).reshape(4, 3).t();
        Assert.False(transposed.is_contiguous());

        SafetensorsWriter.WriteSharded(dir.Path, [new("t", transposed)], maxShardBytes: 1 << 20);

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        Assert.True(transposed.eq(checkpoint.ReadTensor("t", [3, 4])).all().item<bool>());
    }

    [Fact]
    public void ReadTensorConvertsToTheRequestedDtype()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var original = randn(new long[] { 4, 5 }, ScalarType.BFloat16);
        SafetensorsWriter.WriteSharded(dir.Path, [new("w", original)], maxShardBytes: 1 << 20);

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        var read = checkpoint.ReadTensor("w", dtype: ScalarType.Float32);

        Assert.Equal(ScalarType.Float32, read.dtype);
        Assert.True(original.to_type(ScalarType.Float32).eq(read).all().item<bool>());
    }

    [Fact]
    public void ReadingOneTensorReadsOnlyItsByteRange()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var first = randn(new long[] { 64, 32 }, ScalarType.BFloat16);
        var expert = randn(new long[] { 16, 8 }, ScalarType.Float32);
        var last = randn(new long[] { 7 }, ScalarType.Float16);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [new("first", first), new("expert", expert), new("last", last)]);

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(0, checkpoint.BytesRead);
        var read = checkpoint.ReadTensor("expert");

        Assert.Equal(16 * 8 * 4, checkpoint.Entry("expert").Length);
        Assert.Equal(checkpoint.Entry("expert").Length, checkpoint.BytesRead);
        Assert.Equal(expert.bytes.ToArray(), read.bytes.ToArray());

        var lastEntry = checkpoint.Entry("last");
        var raw = new byte[lastEntry.Length];
        checkpoint.ReadBytes(lastEntry, raw);
        Assert.Equal(last.bytes.ToArray(), raw);
        Assert.Equal(checkpoint.Entry("expert").Length + lastEntry.Length, checkpoint.BytesRead);
    }

    [Fact]
    public void ReadsSplitIntoChunksAssembleTheSameTensor()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDirectory();
        var f32 = randn(new long[] { 5, 7 }, ScalarType.Float32);
        var bf16 = randn(new long[] { 3, 11 }, ScalarType.BFloat16);
        SafetensorsWriter.Write(dir.File("model.safetensors"), [new("f32", f32), new("bf16", bf16)]);

        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);
        // 6 bytes is one F32 element or three BF16 elements per read, with a shorter last run.
        checkpoint.MaxChunkBytes = 6;

        Assert.Equal(f32.bytes.ToArray(), checkpoint.ReadTensor("f32").bytes.ToArray());
        Assert.Equal(bf16.bytes.ToArray(), checkpoint.ReadTensor("bf16").bytes.ToArray());
        Assert.Equal(5 * 7 * 4 + 3 * 11 * 2, checkpoint.BytesRead);
    }
}
