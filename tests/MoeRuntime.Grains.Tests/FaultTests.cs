using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Loading;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// A rank whose checkpoint has NaN in every expert of the last layer, and experts kept cold. Its tests place experts by
/// hand and expect them to stay put, so the tier controllers are off.
/// </summary>
public sealed class FaultyModelFixture() : ClusterFixture(1)
{
    public const int PoisonedLayer = 3;

    protected override void PrepareModel(string directory)
    {
        DefaultModelWriter.Write(directory);
        var names = new CheckpointTensorNames(Model.Configuration.ModelArchitecture.Mixtral);
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        for (int e = 0; e < 8; e++)
            Overwrite(checkpoint.Entry(names.Expert(PoisonedLayer, e).W2), [0xC0, 0x7F]); // bfloat16 NaN
        // Imported poisoned: the manifest vouches for the NaN weights, so they load and fail only when computed.
        CheckpointManifest.Write(directory);
    }

    protected override void Configure(MoeSiloOptions options)
    {
        options.DefaultTier = Tier.Cold;
        options.Control.Enabled = false;
    }

    /// <summary>Fills a tensor's bytes in its shard with a repeated pattern.</summary>
    public static void Overwrite(TensorEntry entry, byte[] pattern)
    {
        var bytes = new byte[entry.Length];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = pattern[i % pattern.Length];
        using var file = new FileStream(entry.File, FileMode.Open, FileAccess.Write);
        file.Position = entry.Offset;
        file.Write(bytes);
    }
}

public sealed class FaultTests(FaultyModelFixture fixture) : IClassFixture<FaultyModelFixture>
{
    [Fact]
    public async Task AnExpertProducingNaNFailsTheRequestAndIsFlagged()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() =>
            fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest { Prompt = "poisoned", Sampling = SamplingParameters.Greedy(4) }));
        Assert.Equal(MoeErrorCode.ExpertFailure, error.Code);
        Assert.Contains("NaN", error.Message);

        var flagged = new List<string>();
        for (int e = 0; e < 8; e++)
        {
            ExpertInfo info = await fixture.Client.GetGrain<IExpertGrain>($"default/{FaultyModelFixture.PoisonedLayer}/{e}").GetInfoAsync();
            if (info.Flagged is not null) flagged.Add(info.Key);
        }
        Assert.NotEmpty(flagged);
    }

    [Fact]
    public async Task ColdBytesThatChangedOnDiskFailTheirIntegrityCheck()
    {
        const string key = "default/1/6";
        IExpertGrain expert = fixture.Client.GetGrain<IExpertGrain>(key);
        await fixture.Client.GetGrain<ITierSetGrain>("default/0").UpdateAsync(new TierSetUpdate
        {
            Tiers = new() { [key] = "cold" },
            ChangedBy = "test",
            Reason = "keep the expert on disk",
        });
        Assert.Equal("cold", (await expert.GetInfoAsync()).Tier);

        // An earlier test's generation may have hinted a prefetch of this expert that is still reading it from disk: let
        // it finish (bounded), change the bytes, then drop any copy in memory so the call has to read the file again.
        ModelHost host = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<ModelHost>();
        var expertKey = new ExpertKey(ClusterFixture.ModelName, 1, 6);
        for (int i = 0; i < 100 && host.Store.Snapshot().Expert(expertKey).Fetching; i++) await Task.Delay(50);
        using (var checkpoint = SafetensorsCheckpoint.Open(fixture.ModelDirectory))
            FaultyModelFixture.Overwrite(checkpoint.Entry(new CheckpointTensorNames(Model.Configuration.ModelArchitecture.Mixtral).Expert(1, 6).W1), [0x12, 0x34]);
        host.Store.Discard(expertKey);

        var payload = new TensorPayload(new byte[2 * 256 * sizeof(float)], 2, 256);
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => expert.ComputeAsync(payload, null));
        Assert.Equal(MoeErrorCode.IntegrityFailure, error.Code);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public async Task APayloadOfTheWrongWidthIsRefused()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() =>
            fixture.Client.GetGrain<IExpertGrain>("default/0/0").ComputeAsync(new TensorPayload(new byte[3 * 4 * sizeof(float)], 3, 4), null));
        Assert.Equal(MoeErrorCode.InvalidRequest, error.Code);
    }

    [Fact]
    public async Task AnExpertOutsideTheModelIsRefused()
    {
        await Assert.ThrowsAnyAsync<Exception>(() => fixture.Client.GetGrain<IExpertGrain>("default/9/0").GetInfoAsync());
    }
}

/// <summary>A rank that batches one sequence at a time and queues at most one more.</summary>
public sealed class SmallQueueFixture() : ClusterFixture(1)
{
    protected override void Configure(MoeSiloOptions options) => (options.MaxQueuedRequests, options.MaxBatchSequences) = (1, 1);
}

public sealed class AdmissionTests(SmallQueueFixture fixture) : IClassFixture<SmallQueueFixture>
{
    IRouterGrain Router => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);

    static GenerateRequest Long(string prompt) => new() { Prompt = prompt, Sampling = SamplingParameters.Greedy(300) with { StopTokenIds = [] } };

    [Fact]
    public async Task PastTheQueueRequestsAreRefusedAtOnceAndACancelledClientFreesItsPlace()
    {
        using var cancel = new CancellationTokenSource();
        var running = Router.GenerateAsync(Long("first"), cancel.Token);
        await WaitUntil(async () => (await Router.GetStatusAsync()).ActiveSequences == 1);
        var queued = Router.GenerateAsync(Long("second"), cancel.Token);
        await WaitUntil(async () => (await Router.GetStatusAsync()).QueueDepth == 1);

        var refused = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(Long("third")));
        Assert.Equal(MoeErrorCode.AdmissionRejected, refused.Code);

        cancel.Cancel();
        await Assert.ThrowsAnyAsync<Exception>(() => running);
        await Assert.ThrowsAnyAsync<Exception>(() => queued);
        await WaitUntil(async () => (await Router.GetStatusAsync()) is { ActiveSequences: 0, QueueDepth: 0 });
        GenerateResponse after = await Router.GenerateAsync(new GenerateRequest { Prompt = "after", Sampling = SamplingParameters.Greedy(5) with { StopTokenIds = [] } });
        Assert.Equal(5, after.TokenIds.Length);
    }

    [Fact]
    public async Task ARequestPastItsDeadlineFailsWithThatReason()
    {
        var error = await Assert.ThrowsAsync<MoeRequestException>(() => Router.GenerateAsync(Long("late") with { Deadline = DateTimeOffset.UtcNow.AddMilliseconds(300) }));
        Assert.Equal(MoeErrorCode.DeadlineExceeded, error.Code);
    }

    static async Task WaitUntil(Func<Task<bool>> condition)
    {
        for (int i = 0; i < 300; i++)
        {
            if (await condition()) return;
            await Task.Delay(20);
        }
        Assert.Fail("condition not reached within 6 s");
    }
}
