using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Loading;
using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Serving.Tests.Tiers.StoreTesting;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>
/// The tier store against the checkpoint's SHA-256 manifest: bytes already wrong at registration are caught and never
/// served, a fixed file serves again, a checkpoint without a manifest still serves, and the dense check at start-up.
/// Each test writes the built-in model of its own, since it changes its files.
/// </summary>
public sealed class ManifestTierStoreTests : IDisposable
{
    static readonly CancellationToken None = CancellationToken.None;
    static readonly ExpertKey Bad = new(DefaultCheckpoint.ModelName, 1, 2), Good = new(DefaultCheckpoint.ModelName, 1, 3);
    readonly TempDirectory _directory = new();

    public ManifestTierStoreTests() => DefaultModelWriter.Write(_directory.Path);

    public void Dispose() => _directory.Dispose();

    ExpertCheckpoint Open() => ExpertCheckpoint.Open(_directory.Path, DefaultCheckpoint.ModelName);

    TensorEntry W1Of(ExpertKey key)
    {
        using var checkpoint = Open();
        return checkpoint.Locate(key).W1;
    }

    [Fact]
    public async Task AnExpertCorruptBeforeStartIsCaughtAtRegistrationNeverServedAndServesOnceItsFileIsFixed()
    {
        TensorEntry w1 = W1Of(Bad);
        FlipByte(w1.File, w1.Offset + 11);
        using var checkpoint = Open();
        Assert.NotNull(checkpoint.Manifest);
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 2);

        store.Register(Bad, Tier.Warm);
        store.Register(Good, Tier.Warm);
        ExpertResidency bad = store.Snapshot().Expert(Bad);
        Assert.Equal((Tier.Cold, Tier.Cold, 0L), (bad.Assigned, bad.Resident, bad.WarmBytes));
        Assert.Equal(Tier.Warm, store.Snapshot().Expert(Good).Resident);
        Assert.Equal(1, store.Snapshot().Counters.IntegrityFailures);

        for (int attempt = 0; attempt < 2; attempt++)
        {
            var error = await Assert.ThrowsAsync<IntegrityException>(() => store.AcquireAsync(Bad, None).AsTask());
            Assert.True(error.AgainstManifest);
            Assert.Equal(w1.Name, error.Tensor);
            Assert.Contains("manifest", error.Message);
            Assert.Contains(Bad.ToString(), error.Message);
        }
        Assert.Equal(0, store.Snapshot().Hot.UsedBytes);

        FlipByte(w1.File, w1.Offset + 11);
        using Tensor tokens = Tokens(checkpoint.Config.HiddenSize);
        using (var lease = await store.AcquireAsync(Bad, None))
        {
            Assert.Equal(Tier.Cold, lease.FoundIn);
            Assert.Equal(ReferenceOutputs(checkpoint, Bad, tokens), Outputs(lease.Expert, tokens));
        }
        Assert.Equal(3, store.Snapshot().Counters.IntegrityFailures);
    }

    [Fact]
    public async Task ColdBytesChangedAfterRegistrationFailAgainstTheManifest()
    {
        using var checkpoint = Open();
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 0);
        store.Register(Bad);
        TensorEntry w1 = checkpoint.Locate(Bad).W1;
        FlipByte(w1.File, w1.Offset + 3);

        var error = await Assert.ThrowsAsync<IntegrityException>(() => store.AcquireAsync(Bad, None).AsTask());
        Assert.True(error.AgainstManifest);

        FlipByte(w1.File, w1.Offset + 3);
        using var lease = await store.AcquireAsync(Bad, None);
        Assert.Equal(Tier.Cold, lease.FoundIn);
    }

    [Fact]
    public async Task ACheckpointWithoutAManifestStillServesCheckedAgainstTheBytesSeenAtRegistration()
    {
        File.Delete(Path.Combine(_directory.Path, CheckpointManifest.FileName));
        TensorEntry w1 = W1Of(Bad);
        using var checkpoint = Open();
        Assert.Null(checkpoint.Manifest);
        Assert.Empty(checkpoint.VerifyDense());
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 0);
        store.Register(Bad);
        (await store.AcquireAsync(Bad, None)).Dispose();
        Assert.True(store.Discard(Bad));

        FlipByte(w1.File, w1.Offset + 3);
        var error = await Assert.ThrowsAsync<IntegrityException>(() => store.AcquireAsync(Bad, None).AsTask());
        Assert.False(error.AgainstManifest);
        Assert.Contains("recorded at registration", error.Message);
    }

    [Fact]
    public void TheDenseCheckFindsChangedDenseTensorsAndFilesButLeavesExpertsToRegistration()
    {
        using (var checkpoint = Open()) Assert.Empty(checkpoint.VerifyDense());
        TensorEntry expert = W1Of(Good), embedding;
        using (var checkpoint = Open()) embedding = checkpoint.Tensors.Entry(CheckpointTensorNames.Embedding);
        FlipByte(expert.File, expert.Offset);
        using (var checkpoint = Open()) Assert.Empty(checkpoint.VerifyDense());

        FlipByte(embedding.File, embedding.Offset + 100);
        string config = Path.Combine(_directory.Path, "config.json"), text = File.ReadAllText(config);
        File.AppendAllText(config, "\n");
        // A file of another size than the manifest lists is refused when the checkpoint opens.
        var refused = Assert.Throws<CheckpointException>(Open);
        Assert.Contains("config.json", refused.Message);
        // Same size, other bytes (still valid JSON): found by the dense check's hash.
        int colon = text.IndexOf(": ", StringComparison.Ordinal);
        File.WriteAllText(config, string.Concat(text.AsSpan(0, colon), ":\n", text.AsSpan(colon + 2)));
        using (var checkpoint = Open())
        {
            IReadOnlyList<string> wrong = checkpoint.VerifyDense();
            Assert.Equal(2, wrong.Count);
            Assert.Contains(wrong, w => w.Contains(CheckpointTensorNames.Embedding));
            Assert.Contains(wrong, w => w.Contains("config.json"));
        }
    }

    [Fact]
    public async Task DiscardDropsTheCopiesSoTheNextAcquisitionReadsTheFileAgainUnlessALeaseIsOut()
    {
        using var checkpoint = Open();
        using var store = Store(checkpoint, hotExperts: 2, warmExperts: 2);
        store.Register(Good, Tier.Warm);
        ExpertLease first = await store.AcquireAsync(Good, None);
        Assert.Equal(Tier.Warm, first.FoundIn);
        Assert.False(store.Discard(Good));
        first.Dispose();

        Assert.True(store.Discard(Good));
        ExpertResidency dropped = store.Snapshot().Expert(Good);
        Assert.Equal((Tier.Warm, Tier.Cold, 0L, 0L), (dropped.Assigned, dropped.Resident, dropped.HotBytes, dropped.WarmBytes));
        using var again = await store.AcquireAsync(Good, None);
        Assert.Equal(Tier.Cold, again.FoundIn);
        Assert.Equal(1, store.Snapshot().Counters.MissesFromCold);
    }

    static void FlipByte(string file, long offset)
    {
        using var handle = File.OpenHandle(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        Span<byte> one = stackalloc byte[1];
        RandomAccess.Read(handle, one, offset);
        one[0] ^= 0x5A;
        RandomAccess.Write(handle, one, offset);
    }
}
