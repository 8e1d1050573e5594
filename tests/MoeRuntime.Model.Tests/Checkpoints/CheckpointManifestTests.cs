using System.Security.Cryptography;
using System.Text.Json.Nodes;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;

namespace MoeRuntime.Model.Tests.Checkpoints;

/// <summary>The SHA-256 manifest: written with the model, read back, refused when malformed, and catching changed bytes.</summary>
public sealed class CheckpointManifestTests : IDisposable
{
    readonly TempDirectory _directory = new();

    public CheckpointManifestTests() => DefaultModelWriter.Write(_directory.Path);

    public void Dispose() => _directory.Dispose();

    string ManifestPath => _directory.File(CheckpointManifest.FileName);

    [Fact]
    public void TheWrittenModelHasAManifestThatReadsBackAndCoversEveryFileAndTensor()
    {
        CheckpointManifest manifest = CheckpointManifest.Load(_directory.Path)!;
        Assert.NotNull(manifest);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(ManifestPath))), manifest.Digest);
        string[] files = [.. Directory.GetFiles(_directory.Path).Select(Path.GetFileName).Where(f => f != CheckpointManifest.FileName).Order(StringComparer.Ordinal)!];
        Assert.Equal(files, manifest.Files.Keys.Order(StringComparer.Ordinal));
        foreach (string file in files)
            Assert.Equal(SHA256.HashData(File.ReadAllBytes(_directory.File(file))), manifest.Files[file].Sha256);

        using var checkpoint = SafetensorsCheckpoint.Open(_directory.Path);
        manifest.CheckCovers(checkpoint);
        Assert.Equal(checkpoint.Tensors.Count, manifest.Tensors.Count);
        TensorEntry entry = checkpoint.Tensors.Values.First();
        var bytes = new byte[entry.Length];
        checkpoint.ReadBytes(entry, bytes);
        Assert.Equal(SHA256.HashData(bytes), manifest.TensorDigest(entry.Name).ToArray());
        // A buffer smaller than the tensor: the streaming hash is the same.
        Assert.True(manifest.TensorMatches(checkpoint, entry, new byte[1000]));
        Assert.Empty(manifest.VerifyFiles(_directory.Path));
    }

    [Fact]
    public void WritingAgainOverAnIntactCheckpointGivesTheSameManifest()
    {
        string before = CheckpointManifest.Load(_directory.Path)!.Digest;
        Assert.Equal(before, CheckpointManifest.Write(_directory.Path).Digest);
        Assert.Equal(before, CheckpointManifest.Load(_directory.Path)!.Digest);
    }

    [Fact]
    public void ChangedBytesAreFoundByTensorAndByFile()
    {
        CheckpointManifest manifest = CheckpointManifest.Load(_directory.Path)!;
        TensorEntry entry;
        using (var checkpoint = SafetensorsCheckpoint.Open(_directory.Path)) entry = checkpoint.Tensors.Values.First(t => t.Name.Contains(".experts.3.w2"));
        FlipByte(entry.File, entry.Offset + 17);

        using (var checkpoint = SafetensorsCheckpoint.Open(_directory.Path))
        {
            Assert.False(manifest.TensorMatches(checkpoint, checkpoint.Entry(entry.Name), CheckpointManifest.NewHashBuffer()));
            Assert.True(manifest.TensorMatches(checkpoint, checkpoint.Tensors.Values.First(t => t.File != entry.File || t.Name != entry.Name), CheckpointManifest.NewHashBuffer()));
        }
        string problem = Assert.Single(manifest.VerifyFiles(_directory.Path));
        Assert.Contains(Path.GetFileName(entry.File), problem);
        Assert.Contains("SHA-256 differs", problem);

        // Written again, the manifest vouches for the bytes as they now are.
        Assert.NotEqual(manifest.Digest, CheckpointManifest.Write(_directory.Path).Digest);
        Assert.Empty(CheckpointManifest.Load(_directory.Path)!.VerifyFiles(_directory.Path));
    }

    [Fact]
    public void ACheckpointWithoutAManifestHasNone()
    {
        File.Delete(ManifestPath);
        Assert.Null(CheckpointManifest.Load(_directory.Path));
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "top level must be a JSON object")]
    [InlineData("""{"format":2,"algorithm":"sha256","files":{},"tensors":{"a":"00"}}""", "\"format\" must be 1")]
    [InlineData("""{"format":1,"algorithm":"md5","files":{},"tensors":{"a":"00"}}""", "\"algorithm\" must be \"sha256\"")]
    [InlineData("""{"format":1,"algorithm":"sha256","tensors":{"a":"00"}}""", "\"files\" must be an object")]
    [InlineData("""{"format":1,"algorithm":"sha256","files":{},"tensors":{"a":"00"}}""", "the digest of \"a\" must be 64 hex digits")]
    [InlineData("""{"format":1,"algorithm":"sha256","files":{},"tensors":{}}""", "lists no tensor")]
    [InlineData("""{"format":1,"algorithm":"sha256","files":{"../x":{"bytes":1,"sha256":"00"}},"tensors":{}}""", "plain file name")]
    [InlineData("""{"format":1,"algorithm":"sha256","files":{"x":{"sha256":"00"}},"tensors":{}}""", "needs \"bytes\"")]
    public void AMalformedManifestIsRefusedNamingWhatIsWrong(string json, string words)
    {
        File.WriteAllText(ManifestPath, json);
        var error = Assert.Throws<CheckpointException>(() => CheckpointManifest.Load(_directory.Path));
        Assert.Contains(CheckpointManifest.FileName, error.Message);
        Assert.Contains(words, error.Message);
    }

    [Fact]
    public void AManifestOfAnotherCheckpointIsRefusedByTheTensorOrFileThatDiffers()
    {
        JsonObject root = JsonNode.Parse(File.ReadAllText(ManifestPath))!.AsObject();
        JsonObject tensors = root["tensors"]!.AsObject();
        string dropped = tensors.First().Key;
        tensors.Remove(dropped);
        File.WriteAllText(ManifestPath, root.ToJsonString());
        using (var checkpoint = SafetensorsCheckpoint.Open(_directory.Path))
        {
            var error = Assert.Throws<CheckpointException>(() => CheckpointManifest.Load(_directory.Path)!.CheckCovers(checkpoint));
            Assert.Contains(dropped, error.Message);
            Assert.Contains("not in its manifest", error.Message);
        }

        CheckpointManifest.Write(_directory.Path);
        File.AppendAllText(_directory.File("config.json"), " ");
        using (var checkpoint = SafetensorsCheckpoint.Open(_directory.Path))
        {
            var error = Assert.Throws<CheckpointException>(() => CheckpointManifest.Load(_directory.Path)!.CheckCovers(checkpoint));
            Assert.Contains("config.json", error.Message);
        }
    }

    static void FlipByte(string file, long offset)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        int b = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(b ^ 0xFF));
    }
}
