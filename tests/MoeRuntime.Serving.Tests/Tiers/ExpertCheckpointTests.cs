using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Serving.Tests.Tiers.StoreTesting;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Tiers;

/// <summary>Experts built from warm and cold bytes against the model loader's, bit for bit.</summary>
[Collection(DefaultCheckpointCollection.Name)]
public class ExpertCheckpointTests(DefaultCheckpoint defaultCheckpoint)
{
    [Fact]
    public async Task WarmAndColdBFloat16ExpertsComputeExactlyWhatTheLoaderBuilds()
    {
        using var checkpoint = defaultCheckpoint.Open();
        await AssertWarmAndColdMatchTheLoader(checkpoint, DefaultCheckpoint.Key(2, 5), DefaultCheckpoint.Key(3, 1));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.Float16)]
    [InlineData(ScalarType.BFloat16)]
    public async Task WarmAndColdExpertsOfEveryStoredDTypeComputeExactlyWhatTheLoaderBuilds(ScalarType dtype)
    {
        using var directory = new TempDirectory();
        TinyExpertCheckpoint.Write(directory.Path, dtype, seed: 3);
        using var checkpoint = ExpertCheckpoint.Open(directory.Path, "tiny");
        await AssertWarmAndColdMatchTheLoader(checkpoint, new ExpertKey("tiny", 1, 2), new ExpertKey("tiny", 0, 1));
    }

    [Fact]
    public void LocateReportsTheExpertsSizes()
    {
        using var checkpoint = defaultCheckpoint.Open();
        ExpertTensors expert = checkpoint.Locate(DefaultCheckpoint.Key(0, 3));
        Assert.Equal(3L * 256 * 1024 * 2, expert.WarmBytes);
        Assert.Equal(3L * 256 * 1024 * 4, expert.HotBytes);
        Assert.Equal(expert.WarmBytes, checkpoint.ReadBytes(expert).Length);
    }

    [Fact]
    public void LocateRejectsExpertsTheCheckpointLacks()
    {
        using var checkpoint = defaultCheckpoint.Open();
        Assert.Throws<ArgumentOutOfRangeException>(() => checkpoint.Locate(DefaultCheckpoint.Key(4, 0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => checkpoint.Locate(DefaultCheckpoint.Key(0, 8)));
        Assert.Throws<ArgumentException>(() => checkpoint.Locate(new ExpertKey("another", 0, 0)));
    }

    static async Task AssertWarmAndColdMatchTheLoader(ExpertCheckpoint checkpoint, ExpertKey warm, ExpertKey cold)
    {
        var expert = checkpoint.Locate(warm);
        using var store = new ExpertTierStore(
            checkpoint, new TierBudgets(2 * expert.HotBytes, expert.WarmBytes), CPU, NullLogger<ExpertTierStore>.Instance);
        store.Register(warm, Tier.Warm);
        store.Register(cold, Tier.Cold);
        using Tensor tokens = Tokens(checkpoint.Config.HiddenSize);

        using (var lease = await store.AcquireAsync(warm, CancellationToken.None))
        {
            Assert.Equal(Tier.Warm, lease.FoundIn);
            Assert.Equal(ReferenceOutputs(checkpoint, warm, tokens), Outputs(lease.Expert, tokens));
        }
        using (var lease = await store.AcquireAsync(cold, CancellationToken.None))
        {
            Assert.Equal(Tier.Cold, lease.FoundIn);
            Assert.Equal(ReferenceOutputs(checkpoint, cold, tokens), Outputs(lease.Expert, tokens));
        }
    }
}
