using MoeRuntime.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Checkpoints;

public class SafetensorsMalformedTests
{
    private static void AssertNames(CheckpointException error, string file, string? tensor)
    {
        Assert.Contains(file, error.Message);
        if (tensor is not null)
        {
            Assert.Contains($"'{tensor}'", error.Message);
        }
    }

    /// <summary>Two shards: "a" and "b" (48 bytes each, F32 [3, 4]) in shard 1 and 2.</summary>
    private static void WriteTwoShards(string directory)
    {
        using var scope = NewDisposeScope();
        SafetensorsWriter.WriteSharded(
            directory,
            [new("a", randn(new long[] { 3, 4 })), new("b", randn(new long[] { 3, 4 }))],
            maxShardBytes: 64);
    }

    [Fact]
    public void MissingTensorNamesTheIndexAndTheTensor()
    {
        using var dir = new TempDirectory();
        WriteTwoShards(dir.Path);
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);

        Assert.False(checkpoint.Contains("nope"));
        AssertNames(Assert.Throws<CheckpointException>(() => checkpoint.Entry("nope")), dir.File("model.safetensors.index.json"), "nope");
        AssertNames(Assert.Throws<CheckpointException>(() => checkpoint.ReadTensor("nope")), dir.File("model.safetensors.index.json"), "nope");
    }

    [Fact]
    public void MissingTensorWithoutIndexNamesTheDirectory()
    {
        using var dir = new TempDirectory();
        RawSafetensors.Write(dir.File("model.safetensors"), "{}      ", 0);
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);

        AssertNames(Assert.Throws<CheckpointException>(() => checkpoint.Entry("nope")), dir.Path, "nope");
    }

    [Fact]
    public void WrongExpectedShapeNamesShardTensorAndBothShapes()
    {
        using var dir = new TempDirectory();
        WriteTwoShards(dir.Path);
        using var checkpoint = SafetensorsCheckpoint.Open(dir.Path);

        var error = Assert.Throws<CheckpointException>(() => checkpoint.ReadTensor("b", [4, 3]));

        AssertNames(error, dir.File("model-00002-of-00002.safetensors"), "b");
        Assert.Contains("[3, 4]", error.Message);
        Assert.Contains("[4, 3]", error.Message);
        Assert.Equal(0, checkpoint.BytesRead);
    }

    [Fact]
    public void TruncatedShardNamesTheShardAndTheCutTensor()
    {
        using var dir = new TempDirectory();
        WriteTwoShards(dir.Path);
        string shard = dir.File("model-00002-of-00002.safetensors");
        using (var stream = new FileStream(shard, FileMode.Open))
        {
            stream.SetLength(stream.Length - 3);
        }

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, shard, "b");
        Assert.Contains("truncated", error.Message);
    }

    [Fact]
    public void IndexNamingAMissingShardNamesIndexAndShard()
    {
        using var dir = new TempDirectory();
        WriteTwoShards(dir.Path);
        File.Delete(dir.File("model-00002-of-00002.safetensors"));

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, dir.File("model.safetensors.index.json"), "b");
        Assert.Contains("model-00002-of-00002.safetensors", error.Message);
    }

    [Fact]
    public void IndexNamingATensorItsShardLacksNamesShardAndTensor()
    {
        using var dir = new TempDirectory();
        WriteTwoShards(dir.Path);
        File.WriteAllText(
            dir.File("model.safetensors.index.json"),
            """{"weight_map":{"a":"model-00001-of-00002.safetensors","ghost":"model-00001-of-00002.safetensors"}}""");

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, dir.File("model-00001-of-00002.safetensors"), "ghost");
    }

    [Theory]
    [InlineData("""{"weight_map":{"a":"../model-00001-of-00002.safetensors"}}""", "a")]
    [InlineData("""{"weight_map":{"a":"/etc/passwd"}}""", "a")]
    [InlineData("""{"weight_map":{"a":7}}""", "a")]
    [InlineData("""{"weight_map":[]}""", null)]
    [InlineData("""{"weight_map":{"a":""", null)]
    public void MalformedIndexNamesTheIndex(string index, string? tensor)
    {
        using var dir = new TempDirectory();
        WriteTwoShards(dir.Path);
        File.WriteAllText(dir.File("model.safetensors.index.json"), index);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, dir.File("model.safetensors.index.json"), tensor);
    }

    [Fact]
    public void BadHeaderJsonNamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        RawSafetensors.Write(path, """{"w":{"dtype":"F32",""", 0);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, path, null);
        Assert.Contains("JSON", error.Message);
    }

    [Theory]
    [InlineData(1000UL)]
    [InlineData(1UL << 40)]
    [InlineData(ulong.MaxValue)]
    public void HeaderLengthBeyondTheFileNamesTheFile(ulong declaredLength)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        RawSafetensors.Write(path, declaredLength, "{}      ", 0);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, path, null);
        Assert.Contains(declaredLength.ToString(), error.Message);
    }

    [Fact]
    public void FileShorterThanTheLengthFieldNamesTheFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        AssertNames(Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path)), path, null);
    }

    [Fact]
    public void UnknownDtypeNamesFileTensorAndDtype()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        RawSafetensors.Write(path, """{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}""", 16);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, path, "ids");
        Assert.Contains("I64", error.Message);
    }

    [Theory]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":5,"shape":[2],"data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":[1,2]}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"v":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, "v")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", 12, "v")]
    [InlineData("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "w")]
    [InlineData("""{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, null)]
    [InlineData("""{"__metadata__":"pt"}""", 0, null)]
    [InlineData("""[]""", 0, null)]
    public void MalformedHeaderNamesFileAndTensor(string header, int dataBytes, string? tensor)
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        RawSafetensors.Write(path, header, dataBytes);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, path, tensor);
    }

    [Fact]
    public void TensorInTwoUnindexedFilesNamesBothFiles()
    {
        using var dir = new TempDirectory();
        const string header = """{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""";
        RawSafetensors.Write(dir.File("a.safetensors"), header, 4);
        RawSafetensors.Write(dir.File("b.safetensors"), header, 4);

        var error = Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path));

        AssertNames(error, dir.File("b.safetensors"), "w");
        Assert.Contains(dir.File("a.safetensors"), error.Message);
    }

    [Fact]
    public void DirectoryWithoutCheckpointNamesTheDirectory()
    {
        using var dir = new TempDirectory();

        AssertNames(Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.Path)), dir.Path, null);
        AssertNames(Assert.Throws<CheckpointException>(() => SafetensorsCheckpoint.Open(dir.File("absent"))), dir.File("absent"), null);
    }
}
