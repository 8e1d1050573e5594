using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using MoeRuntime.Grains.Experts;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Placement;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Generation;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Sampling;
using MoeRuntime.Serving.Tiers;
using static TorchSharp.torch;

namespace MoeRuntime.Grains.Tests;

/// <summary>
/// One rank whose checkpoint has NaN in one expert, imported that way (its manifest vouches for the bytes), and the
/// controllers off so experts stay where the tests put them.
/// </summary>
public sealed class OnePoisonedExpertFixture() : ClusterFixture(1)
{
    /// <summary>The first layer: a row's NaN reaches every later row through attention, so the reference sees it too.</summary>
    public const int Layer = 0, Expert = 2;

    protected override void PrepareModel(string directory)
    {
        DefaultModelWriter.Write(directory);
        using (var checkpoint = SafetensorsCheckpoint.Open(directory))
            FaultyModelFixture.Overwrite(checkpoint.Entry(new CheckpointTensorNames(Model.Configuration.ModelArchitecture.Mixtral).Expert(Layer, Expert).W2), [0xC0, 0x7F]);
        CheckpointManifest.Write(directory);
    }

    protected override void Configure(MoeSiloOptions options) => options.Control.Enabled = false;
}

public sealed class QuarantineTests(OnePoisonedExpertFixture fixture) : IClassFixture<OnePoisonedExpertFixture>
{
    // Short prompts and few tokens, so that some sequences never meet the poisoned expert.
    static readonly string[] Prompts = ["a", "b", "zz", "!", "x", "Hi", "7", "q", "ok", "?", "de", "yo", "k", "MoE", "Z", "."];

    [Fact]
    public async Task ABatchWithANaNExpertFailsOnlyTheSequencesRoutedToIt()
    {
        var options = SamplingOptions.Greedy with { MaxTokens = 2, StopTokenIds = [] };
        // The reference runs the same poisoned weights: a sequence with a row routed to the NaN expert gets NaN logits,
        // which its sampler refuses.
        GenerationResult?[] references = [.. Prompts.Select(p => Reference(p, options))];
        bool[] touches = [.. references.Select(r => r is null)];
        Assert.Contains(true, touches);
        Assert.Contains(false, touches);

        IRouterGrain router = fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName);
        // All at once, so they share batches.
        Task<GenerateResponse>[] calls = [.. Prompts.Select(p => router.GenerateAsync(new GenerateRequest
        {
            Prompt = p,
            Sampling = SamplingParameters.Greedy(2) with { StopTokenIds = [] },
            IncludeLogits = true,
        }))];
        await Task.WhenAll(calls.Select(c => c.ContinueWith(_ => { }, TaskScheduler.Default)));

        string outcome = string.Join(", ", Prompts.Select((p, i) => $"{p}: touches {touches[i]}, {(calls[i].IsCompletedSuccessfully ? "ok" : calls[i].Exception!.InnerException!.Message)}"));
        Assert.True(touches.Select((t, i) => t != calls[i].IsCompletedSuccessfully).All(x => x), outcome);
        for (int i = 0; i < Prompts.Length; i++)
        {
            if (touches[i])
            {
                var error = Assert.IsType<MoeRequestException>(calls[i].Exception?.InnerException);
                Assert.Equal(MoeErrorCode.ExpertFailure, error.Code);
                Assert.Contains($"{OnePoisonedExpertFixture.Layer}/{OnePoisonedExpertFixture.Expert}", error.Message);
            }
            else ServingAssertions.MatchesReference(references[i]!, await calls[i]);
        }
        ExpertInfo info = await fixture.Client.GetGrain<IExpertGrain>(GrainKeys.Expert(ClusterFixture.ModelName, OnePoisonedExpertFixture.Layer, OnePoisonedExpertFixture.Expert)).GetInfoAsync();
        Assert.Contains("NaN", info.Flagged);
    }

    GenerationResult? Reference(string prompt, SamplingOptions options)
    {
        try
        {
            return fixture.ReferenceRun(prompt, options);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("NaN"))
        {
            return null;
        }
    }

    [Fact]
    public async Task ACopyThatTurnsNaNInMemoryIsQuarantinedAndRecoversFromAFreshReadAfterTheBackOff()
    {
        const int layer = 1, index = 4;
        string key = GrainKeys.Expert(ClusterFixture.ModelName, layer, index);
        IExpertGrain expert = fixture.Client.GetGrain<IExpertGrain>(key);
        var payload = new TensorPayload(new byte[3 * 256 * sizeof(float)], 3, 256);
        new Random(3).NextBytes(payload.Data);
        for (int i = 0; i < payload.Data.Length; i += 4) payload.Data[i + 3] = 0x3C; // small finite floats
        TensorPayload good = await expert.ComputeAsync(payload, null);

        // A bit flip in memory: the hot copy's weights turn NaN while the file on disk stays right.
        ModelHost host = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<ModelHost>();
        using (ExpertLease lease = await host.Store.AcquireAsync(new ExpertKey(ClusterFixture.ModelName, layer, index), CancellationToken.None))
        {
            var weights = (Tensor)typeof(ExpertFfn).GetField("_gateUp", BindingFlags.NonPublic | BindingFlags.Instance)!.GetValue(lease.Expert)!;
            using (no_grad()) weights.fill_(float.NaN);
        }

        var failed = await Assert.ThrowsAsync<MoeRequestException>(() => expert.ComputeAsync(payload, null));
        Assert.Equal(MoeErrorCode.ExpertFailure, failed.Code);
        // Quarantined: refused at once, without computing, and shown as flagged.
        var refused = await Assert.ThrowsAsync<MoeRequestException>(() => expert.ComputeAsync(payload, null));
        Assert.Equal(MoeErrorCode.ExpertFailure, refused.Code);
        Assert.Contains("NaN", (await expert.GetInfoAsync()).Flagged);
        Assert.Equal(Tier.Cold, host.Store.Snapshot().Expert(new ExpertKey(ClusterFixture.ModelName, layer, index)).Resident);

        TensorPayload? recovered = null;
        await Eventually.UntilAsync("the copy serves again after its back-off", TimeSpan.FromSeconds(30), async () =>
        {
            recovered = await expert.ComputeAsync(payload, null);
            return true;
        }, () => "still refused");
        Assert.Equal(good.Data, recovered!.Data);
        Assert.Null((await expert.GetInfoAsync()).Flagged);
    }
}

/// <summary>
/// Two ranks; rank 1 serves from its own copy of the checkpoint whose layer-0 experts were corrupted after the manifest
/// was written (bytes wrong before start-up), so its copies of them fail their digest; rank 0's copy is intact.
/// </summary>
public sealed class CorruptReplicaFixture() : ClusterFixture(2)
{
    /// <summary>Inside the fixture's directory, so it goes with it; a checkpoint reads only the files of its own directory.</summary>
    public string CopyDirectory => Path.Combine(ModelDirectory, "rank1");

    protected override void PrepareModel(string directory)
    {
        base.PrepareModel(directory);
        Directory.CreateDirectory(CopyDirectory);
        foreach (string file in Directory.GetFiles(directory)) File.Copy(file, Path.Combine(CopyDirectory, Path.GetFileName(file)));
        using var checkpoint = SafetensorsCheckpoint.Open(CopyDirectory);
        var names = new CheckpointTensorNames(Model.Configuration.ModelArchitecture.Mixtral);
        for (int e = 0; e < 8; e++) FlipFirstByte(checkpoint.Entry(names.Expert(0, e).W1));
    }

    protected override void Configure(MoeSiloOptions options)
    {
        options.Control.Enabled = false;
        if (options.Rank == 1) options.ModelPath = CopyDirectory;
    }

    public static void FlipFirstByte(TensorEntry entry)
    {
        using var file = new FileStream(entry.File, FileMode.Open, FileAccess.ReadWrite);
        file.Position = entry.Offset;
        int b = file.ReadByte();
        file.Position = entry.Offset;
        file.WriteByte((byte)(b ^ 0x21));
    }
}

public sealed class ReplicaFailoverTests(CorruptReplicaFixture fixture) : IClassFixture<CorruptReplicaFixture>
{
    const string Model = ClusterFixture.ModelName;
    static readonly string[] Prompts = ["A quarantined replica hands its tokens to another copy", "a", "The cluster"];

    [Fact]
    public async Task WhileOneReplicaIsQuarantinedItsCallsGoToAnotherCopyAndOutputsStayTheReferencesUntilItRecovers()
    {
        var replicas = Enumerable.Range(0, 8).ToDictionary(e => GrainKeys.Expert(Model, 0, e), _ => new[] { 0, 1 });
        PlacementMapView map = await fixture.Client.GetGrain<IExpertPlacementGrain>(Model)
            .ApplyAsync(new PlacementMapUpdate { Replicas = replicas, ChangedBy = "test", Reason = "two copies of layer 0", Changes = ["by hand"] });
        foreach (var silo in fixture.Cluster.Silos)
        {
            PlacementMapCache cache = silo.ServiceProvider.GetRequiredService<PlacementMapCache>();
            await cache.RefreshAsync();
            Assert.Equal(map.Version, cache.Current.Version);
        }

        // Twice: the first round finds rank 1's copies wrong, the second meets them quarantined.
        for (int round = 0; round < 2; round++)
        {
            GenerateResponse[] answers = await Task.WhenAll(Prompts.Select(p => fixture.Client.GetGrain<IRouterGrain>(Model).GenerateAsync(new GenerateRequest
            {
                Prompt = p,
                Sampling = SamplingParameters.Greedy(10) with { StopTokenIds = [] },
                IncludeLogits = true,
            })));
            for (int i = 0; i < Prompts.Length; i++)
                ServingAssertions.MatchesReference(fixture.ReferenceRun(Prompts[i], SamplingOptions.Greedy with { MaxTokens = 10, StopTokenIds = [] }), answers[i]);
        }

        ExpertInfo[] onRank1 = await Task.WhenAll(Enumerable.Range(0, 8).Select(e => fixture.Client.GetGrain<IExpertGrain>(GrainKeys.Replica(Model, 0, e, 1)).GetInfoAsync()));
        ExpertInfo[] onRank0 = await Task.WhenAll(Enumerable.Range(0, 8).Select(e => fixture.Client.GetGrain<IExpertGrain>(GrainKeys.Replica(Model, 0, e, 0)).GetInfoAsync()));
        int quarantined = Array.FindIndex(onRank1, i => i.Flagged is not null);
        Assert.True(quarantined >= 0, "some of rank 1's layer-0 copies were called and quarantined");
        Assert.Contains("manifest", onRank1[quarantined].Flagged);
        Assert.All(onRank1, i => Assert.Equal(0, i.Tokens));
        Assert.All(onRank0, i => Assert.Null(i.Flagged));
        Assert.True(onRank0.Sum(i => i.Tokens) > 0);

        // The file fixed (the good bytes back): after its back-off, a re-read passes and the copy serves again.
        using (var copy = SafetensorsCheckpoint.Open(fixture.CopyDirectory))
        {
            string w1 = new CheckpointTensorNames(MoeRuntime.Model.Configuration.ModelArchitecture.Mixtral).Expert(0, quarantined).W1;
            CorruptReplicaFixture.FlipFirstByte(copy.Entry(w1));
        }
        IExpertGrain fixedCopy = fixture.Client.GetGrain<IExpertGrain>(GrainKeys.Replica(Model, 0, quarantined, 1));
        var payload = new TensorPayload(new byte[2 * 256 * sizeof(float)], 2, 256);
        await Eventually.UntilAsync("the fixed copy serves again", TimeSpan.FromSeconds(30), async () =>
        {
            await fixedCopy.ComputeAsync(payload, null);
            return true;
        }, () => "still refused");
        Assert.Null((await fixedCopy.GetInfoAsync()).Flagged);
    }
}
